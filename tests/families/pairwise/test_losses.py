"""Every loss against values worked out by hand on one small batch.

Batch (two pairs):      row 0            row 1
  log π(y_w)            −1               −4
  log π(y_l)            −3               −2
  log π_ref(y_w)        −2               −3
  log π_ref(y_l)        −2.5             −2.5
  |y_w|, |y_l|          2, 3             4, 1
Log-ratios: row 0: y_w +1, y_l −0.5, so h = 1.5; row 1: y_w −1, y_l +0.5, so h = −1.5.
With β = 0.1, β·h = ±0.15:  −log σ(0.15) = log(1 + e^−0.15) = 0.6209571,  −log σ(−0.15) = 0.15 − log σ(0.15) = 0.7709570.
"""

import math

import pytest
import torch

from prefzoo.algorithms.cdpo import ConservativeDPO
from prefzoo.algorithms.dpo import DPO
from prefzoo.algorithms.framework.base import PairLogps
from prefzoo.algorithms.ipo import IPO
from prefzoo.algorithms.robust_dpo import RobustDPO
from prefzoo.algorithms.simpo import SimPO
from prefzoo.algorithms.slic_hinge import SLiCHinge

L_POS, L_NEG = 0.62095705, 0.77095705  # −log σ(0.15), −log σ(−0.15)


@pytest.fixture
def batch() -> PairLogps:
    t = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return PairLogps(t(-1, -4), t(-3, -2), t(-2, -3), t(-2.5, -2.5), t(2, 4), t(3, 1))


def check(out, expected):
    assert out.losses.tolist() == pytest.approx(expected, abs=1e-6)


def test_dpo(batch):
    check(DPO(DPO.Config(beta=0.1))(batch), [L_POS, L_NEG])
    assert batch.logratio_margin.tolist() == [1.5, -1.5]


def test_ipo_length_averaged(batch):
    # row 0: 1/2 − (−0.5/3) = 2/3, target 1/(2·0.5) = 1: (2/3 − 1)² = 1/9
    # row 1: −1/4 − 0.5/1 = −3/4: (−3/4 − 1)² = 49/16
    check(IPO(IPO.Config(tau=0.5))(batch), [1 / 9, 49 / 16])


def test_ipo_summed_is_eq17(batch):
    # (1.5 − 1)² = 0.25, (−1.5 − 1)² = 6.25
    check(IPO(IPO.Config(tau=0.5, average_log_ratio=False))(batch), [0.25, 6.25])


def test_cdpo(batch):
    # 0.9·ℓ(0.15) + 0.1·ℓ(−0.15) and the mirror
    check(ConservativeDPO(ConservativeDPO.Config(beta=0.1, epsilon=0.1))(batch),
          [0.9 * L_POS + 0.1 * L_NEG, 0.9 * L_NEG + 0.1 * L_POS])
    assert 0.9 * L_POS + 0.1 * L_NEG == pytest.approx(0.6359570, abs=1e-6)


def test_cdpo_with_zero_epsilon_is_dpo(batch):
    check(ConservativeDPO(ConservativeDPO.Config(beta=0.1, epsilon=0.0))(batch), [L_POS, L_NEG])


def test_robust_dpo(batch):
    # [(1−ε)·ℓ(βh) − ε·ℓ(−βh)] / (1−2ε), ε = 0.1
    check(RobustDPO(RobustDPO.Config(beta=0.1, epsilon=0.1))(batch),
          [(0.9 * L_POS - 0.1 * L_NEG) / 0.8, (0.9 * L_NEG - 0.1 * L_POS) / 0.8])
    assert (0.9 * L_POS - 0.1 * L_NEG) / 0.8 == pytest.approx(0.6022070, abs=1e-6)


def test_robust_dpo_is_unbiased_under_flips(batch):
    """E over a flip with probability ε of the robust loss equals the clean DPO loss (Chowdhury et al. Lemma 3.1)."""
    eps = 0.2
    algo = RobustDPO(RobustDPO.Config(beta=0.1, epsilon=eps))
    flipped = PairLogps(batch.policy_rejected, batch.policy_chosen, batch.ref_rejected, batch.ref_chosen)
    expected = (1 - eps) * algo(batch).losses + eps * algo(flipped).losses
    assert expected.tolist() == pytest.approx([L_POS, L_NEG], abs=1e-6)


def test_slic_hinge(batch):
    check(SLiCHinge(SLiCHinge.Config(beta=0.1, delta=1.0))(batch), [1 - 0.15, 1 + 0.15])
    # a satisfied pair costs nothing and passes no gradient: β·h = 1.5 ≥ δ = 1
    policy = batch.policy_chosen.clone().requires_grad_(True)
    out = SLiCHinge(SLiCHinge.Config(beta=1.0, delta=1.0))(
        PairLogps(policy, batch.policy_rejected, batch.ref_chosen, batch.ref_rejected))
    assert out.losses.tolist() == pytest.approx([0.0, 2.5])
    out.losses[0].backward()
    assert policy.grad.tolist() == [0.0, 0.0]


def test_simpo(batch):
    # row 0: −1/2 − (−3/3) = 0.5: −log σ(2·0.5 − 1) = log 2;  row 1: −4/4 − (−2/1) = 1: −log σ(1)
    check(SimPO(SimPO.Config(beta=2.0, gamma=1.0))(batch), [math.log(2), math.log(1 + math.exp(-1))])


def test_simpo_ignores_the_reference(batch):
    no_ref = PairLogps(batch.policy_chosen, batch.policy_rejected, None, None, batch.chosen_tokens, batch.rejected_tokens)
    assert SimPO()(no_ref).losses.tolist() == SimPO()(batch).losses.tolist()


def test_reference_based_loss_refuses_a_batch_without_reference(batch):
    no_ref = PairLogps(batch.policy_chosen, batch.policy_rejected)
    with pytest.raises(ValueError, match="dpo needs reference log-probs"):
        DPO()(no_ref)


def test_length_normalised_loss_refuses_a_batch_without_lengths(batch):
    no_len = PairLogps(batch.policy_chosen, batch.policy_rejected, batch.ref_chosen, batch.ref_rejected)
    with pytest.raises(ValueError, match="simpo needs response lengths"):
        SimPO()(no_len)
