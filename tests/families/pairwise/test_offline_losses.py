"""The offline objectives beyond DPO's first six, against values worked out by hand on the batch of
``test_losses.py``:

  row            log π(y_w)  log π(y_l)  log π_ref(y_w)  log π_ref(y_l)  |y_w|  |y_l|
  0              −1          −3          −2              −2.5            2      3
  1              −4          −2          −3              −2.5            4      1

Log-ratios: row 0: y_w +1, y_l −0.5 (h = 1.5); row 1: y_w −1, y_l +0.5 (h = −1.5).
"""

import math

import pytest
import torch

from prefzoo.algorithms.framework.base import PairLogps
from prefzoo.registry import ALGORITHMS


def ls(z: float) -> float:
    """−log σ(z), written out."""
    return math.log1p(math.exp(-z))


def sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def t(*v):
    return torch.tensor(v, dtype=torch.float64)


@pytest.fixture
def batch() -> PairLogps:
    return PairLogps(t(-1, -4), t(-3, -2), t(-2, -3), t(-2.5, -2.5), t(2, 4), t(3, 1))


def losses(name: str, batch: PairLogps, **fields) -> list[float]:
    cls = ALGORITHMS.get(name)
    return cls(cls.Config(**fields))(batch).losses.tolist()


def test_nca(batch):
    expected = [ls(0.1) + 0.5 * ls(-0.1) + 0.5 * ls(0.05), ls(-0.1) + 0.5 * ls(0.1) + 0.5 * ls(-0.05)]
    assert losses("nca", batch, beta=0.1) == pytest.approx(expected, abs=1e-9)


def test_sppo_hard(batch):
    # targets ±1/(2β) = ±5: (1 − 5)² + (−0.5 + 5)² and (−1 − 5)² + (0.5 + 5)²
    assert losses("sppo-hard", batch, beta=0.1) == pytest.approx([36.25, 66.25])


def test_dpo_norm(batch):
    # per-token log-ratios: row 0: 1/2 − (−0.5)/3 = 2/3; row 1: −1/4 − 0.5/1 = −3/4
    assert losses("dpo-norm", batch, beta=0.1) == pytest.approx([ls(0.1 * 2 / 3), ls(-0.075)], abs=1e-9)


def test_exo(batch):
    def exo(z, eps):
        return sig(z) * (math.log(sig(z)) - math.log(1 - eps)) + sig(-z) * (math.log(sig(-z)) - math.log(eps))
    assert losses("exo", batch, beta=0.1, epsilon=1e-3) == pytest.approx([exo(0.15, 1e-3), exo(-0.15, 1e-3)], abs=1e-9)


def test_apo_zero_and_down(batch):
    # r = β·log-ratio: row 0 r_w = 0.1, r_l = −0.05; row 1 r_w = −0.1, r_l = 0.05
    zero = [1 - sig(0.1) + sig(-0.05), 1 - sig(-0.1) + sig(0.05)]
    down = [sig(0.1) + 1 - sig(0.15), sig(-0.1) + 1 - sig(-0.15)]
    assert losses("apo", batch, beta=0.1, anchor="zero") == pytest.approx(zero, abs=1e-9)
    assert losses("apo", batch, beta=0.1, anchor="down") == pytest.approx(down, abs=1e-9)


def test_discopop(batch):
    def disco(z, tau):
        w = sig(z / tau)
        return (1 - w) * ls(z) + w * math.exp(-z)
    assert losses("discopop", batch, beta=0.05, tau=0.05) == pytest.approx([disco(0.075, 0.05), disco(-0.075, 0.05)],
                                                                          abs=1e-9)


def test_aot_sorts_over_the_batch(batch):
    # paired: policy margins [2, −2] sorted [−2, 2]; reference margins [0.5, −0.5] sorted [−0.5, 0.5]; δ = [−1.5, 1.5]
    assert losses("aot", batch, beta=0.1) == pytest.approx([ls(-0.15), ls(0.15)], abs=1e-9)
    # unpaired: chosen log-ratios sorted [−1, 1], rejected sorted [−0.5, 0.5]; δ = [−0.5, 0.5]
    assert losses("aot", batch, beta=0.1, unpaired=True) == pytest.approx([ls(-0.05), ls(0.05)], abs=1e-9)


def test_cal_dpo(batch):
    # −log σ(h) + ½[(h_w − 5)² + (h_l + 5)²]
    assert losses("cal-dpo", batch, beta=0.1) == pytest.approx([ls(1.5) + 18.125, ls(-1.5) + 33.125], abs=1e-9)


def test_dpop_penalises_a_falling_chosen_likelihood(batch):
    # row 0: chosen log-ratio +1, no penalty; row 1: −1, penalty 1: −log σ(0.1·(−1.5 − 50·1))
    assert losses("dpop", batch, beta=0.1, lambda_=50.0) == pytest.approx([ls(0.15), ls(-5.15)], abs=1e-9)


def test_cpo_adds_the_token_weighted_nll_of_the_chosen_response(batch):
    # margins log π(y_w) − log π(y_l) = 2 and −2; NLL per pair −log π(y_w)·B/Σ|y_w| = 1·2/6 and 4·2/6
    expected = [ls(0.2) + 1 / 3, ls(-0.2) + 4 / 3]
    assert losses("cpo", batch, beta=0.1, nll_weight=1.0) == pytest.approx(expected, abs=1e-9)
    assert sum(expected) / 2 == pytest.approx(ls(0.2) / 2 + ls(-0.2) / 2 + 5 / 6)  # the mean NLL over 6 tokens


def test_orpo(batch):
    def log_odds(mean_logp):
        return mean_logp - math.log(1 - math.exp(mean_logp))
    # mean log-probs: row 0 chosen −1/2, rejected −3/3; row 1 chosen −4/4, rejected −2/1
    row0 = 1 / 3 + 0.1 * ls(log_odds(-0.5) - log_odds(-1.0))
    row1 = 4 / 3 + 0.1 * ls(log_odds(-1.0) - log_odds(-2.0))
    assert losses("orpo", batch, lambda_=0.1) == pytest.approx([row0, row1], abs=1e-9)


def test_bco_keeps_a_running_reward_shift_per_run(batch):
    cls = ALGORITHMS.get("bco")
    bco = cls(cls.Config(beta=0.1))
    # rewards r_w = [0.1, −0.1], r_l = [−0.05, 0.05]: mean 0, so δ = 0
    assert bco(batch).losses.tolist() == pytest.approx([ls(0.1) + ls(0.05), ls(-0.1) + ls(-0.05)], abs=1e-9)
    shifted = PairLogps(t(9, 6), t(-3, -2), t(-2, -3), t(-2.5, -2.5), t(2, 4), t(3, 1))
    # r_w = [1.1, 0.9], r_l as before: batch mean 0.5; δ = (0 + 0.5)/2 = 0.25
    assert bco(shifted).losses.tolist() == pytest.approx([ls(1.1 - 0.25) + ls(0.3), ls(0.9 - 0.25) + ls(0.2)],
                                                          abs=1e-9)
    state = bco.state_dict()
    assert state == {"delta": [pytest.approx(0.25)], "count": 2}
    resumed = cls(cls.Config(beta=0.1))
    resumed.load_state_dict(state)  # a resumed run continues where the saved one stopped
    assert resumed(shifted).losses.tolist() == bco(shifted).losses.tolist()
    assert resumed.state_dict() == bco.state_dict() and bco.state_dict()["count"] == 3
    assert cls(cls.Config(beta=0.1, reward_shift=False)).state_dict() == {}


def test_beta_dpo_calibrates_beta_on_the_margin_average(batch):
    cls = ALGORITHMS.get("beta-dpo")
    no_filter = cls(cls.Config(beta=0.1, alpha=0.6, filter_fraction=0.0))
    # first batch: margins [1.5, −1.5], mean 0 → M₀ = 0.1·0 = 0, β = 0.1: DPO
    assert no_filter(batch).losses.tolist() == pytest.approx([ls(0.15), ls(-0.15)], abs=1e-9)
    up = PairLogps(t(1, -2), t(-3, -2), t(-2, -3), t(-2.5, -2.5), t(2, 4), t(3, 1))  # margins [3.5, 0.5], mean 2
    # M₀ = 0.9·0 + 0.1·2 = 0.2; β = 0.1·(1 + 0.6·(2 − 0.2)) = 0.208
    assert no_filter(up).losses.tolist() == pytest.approx([ls(0.208 * 3.5), ls(0.208 * 0.5)], abs=1e-9)
    assert no_filter.state_dict()["gap_mean"] == [pytest.approx(0.2)]
    dpo = cls(cls.Config(beta=0.1, alpha=0.0, filter_fraction=0.0))
    assert dpo(up).losses.tolist() == pytest.approx([ls(0.35), ls(0.05)], abs=1e-9)
    torch.manual_seed(0)
    filtered = cls(cls.Config(beta=0.1, alpha=0.0, filter_fraction=0.5))(up).losses
    assert int((filtered != 0).sum()) == 1  # one of two pairs kept, weighted 2 so the mean is its loss
    assert float(filtered.sum()) in (pytest.approx(2 * ls(0.35)), pytest.approx(2 * ls(0.05)))
