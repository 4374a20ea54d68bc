"""BFPO (Zhang et al. 2024): the labelling function and loss by hand, IPO as its single-factor case,
its bandit fixed point against training, and the LM engine's safety labels."""

from __future__ import annotations

import pytest
import torch

from prefzoo.algorithms.engine.data import DatasetError, TokenizationSettings, collate_pairs, tokenize_pairs
from prefzoo.algorithms.engine.logprobs import sequence_logps
from prefzoo.algorithms.engine.pairwise import TrainSettings, train_pairwise
from prefzoo.algorithms.engine.reference import compute_reference_logps, with_reference
from prefzoo.algorithms.framework.base import PairLogps
from prefzoo.benchmarks.suites.bandit.pairwise import DATASETS, TWO_FACTOR, BanditSettings, fixed_point, run_bandit
from prefzoo.registry import ALGORITHMS
from tests.tiny_lm import make_tiny_lm, pairs, policy

BFPO = ALGORITHMS.get("bfpo")


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_labelling_function_and_loss_by_hand():
    """τ = 0.5, B₁ = 3 (B₃ = ½), α = ½: targets (3/2·I_w − 1/2·I_l − ½)/τ."""
    bfpo = BFPO(BFPO.Config(tau=0.5))
    chosen_safe, rejected_safe = t(1, 1, 0, 0), t(1, 0, 1, 0)
    assert bfpo.targets(chosen_safe, rejected_safe).tolist() == pytest.approx([1.0, 2.0, -2.0, -1.0])
    # margins h = (π_w − ref_w) − (π_l − ref_l) = [0.5, 1, −1, 3]
    b = PairLogps(t(-1.0, -2, -3, -1), t(-2.0, -3, -2, -4), t(-1.5, -2, -2.5, -2), t(-2.0, -2, -2.5, -2),
                  chosen_safe=chosen_safe, rejected_safe=rejected_safe)
    out = bfpo(b)
    assert out.metrics["margin"].tolist() == pytest.approx([0.5, 1.0, -1.0, 3.0])
    assert out.losses.tolist() == pytest.approx([(0.5 - 1) ** 2, (1 - 2) ** 2, (-1 + 2) ** 2, (3 + 1) ** 2])
    other = BFPO(BFPO.Config(tau=1.0, b1=5.0, alpha=0.0))  # B₃ = ¼: targets (5·I_w − I_l)/4
    assert other.targets(chosen_safe, rejected_safe).tolist() == pytest.approx([1.0, 1.25, -0.25, 0.0])


def test_single_factor_data_make_it_ipo():
    """Every response safe and α = ½: the target is 1/(2τ), IPO's Eq. 17 on summed log-probs."""
    g = torch.Generator().manual_seed(0)
    logps = [-torch.rand(16, generator=g, dtype=torch.float64) * 20 for _ in range(4)]
    ones = torch.ones(16, dtype=torch.float64)
    ipo = ALGORITHMS.get("ipo")
    lengths = torch.full((16,), 7.0, dtype=torch.float64)  # read only by IPO's averaged form, not used here
    expected = ipo(ipo.Config(tau=0.3, average_log_ratio=False))(PairLogps(*logps, lengths, lengths)).losses
    got = BFPO(BFPO.Config(tau=0.3))(PairLogps(*logps, chosen_safe=ones, rejected_safe=ones)).losses
    assert torch.allclose(got, expected)
    with pytest.raises(ValueError, match="bfpo needs each response's safety label"):
        BFPO()(PairLogps(*logps))


def test_bandit_training_reaches_the_closed_form_and_the_papers_ranking():
    """On the two-factor bandit BFPO's fixed point ranks helpful-safe ≻ unhelpful-safe ≻ unhelpful-unsafe ≻
    helpful-unsafe (the paper's Fig. 2), and training reaches it; DPO on the same helpfulness-ordered
    pairs puts nearly all mass on the helpful, unsafe arm. On single-factor data BFPO is IPO."""
    bfpo, dpo = ALGORITHMS.get("bfpo"), ALGORITHMS.get("dpo")
    runs = run_bandit([bfpo, dpo], BanditSettings(steps=3000, seeds=2, strengths=(0.5,)),
                      datasets=[TWO_FACTOR, DATASETS[1]])
    trained = {r.algorithm.name: r.final() for r in runs}  # (datasets, seeds, K)
    closed = fixed_point(bfpo(bfpo.Config(tau=0.5)), TWO_FACTOR)
    assert closed.argsort(descending=True).tolist() == [1, 2, 3, 0]
    assert torch.allclose(trained["bfpo"][0].double(), closed.expand(2, -1), atol=0.02)
    ipo = ALGORITHMS.get("ipo")
    assert torch.allclose(fixed_point(bfpo(bfpo.Config(tau=0.5)), DATASETS[1]),
                          fixed_point(ipo(ipo.Config(tau=0.5)), DATASETS[1]))
    assert torch.allclose(trained["bfpo"][1, :, :3].double(), fixed_point(ipo(ipo.Config(tau=0.5)), DATASETS[1]),
                          atol=0.02)
    assert (trained["dpo"][0, :, 0] > 0.95).all()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


def labelled(n: int) -> list[dict]:
    return [row | {"chosen_safe": i % 3 != 0, "rejected_safe": i % 2 == 0} for i, row in enumerate(pairs(n))]


def test_the_engine_trains_on_safety_labels_and_refuses_rows_without(tiny):
    """One engine step's loss equals BFPO on the policy's and the reference's log-probs of the batch."""
    _, tok, model = policy(tiny, quantize=False)
    rows = labelled(4)
    data = tokenize_pairs(rows, tok, TokenizationSettings())
    assert data["chosen_safe"] == [False, True, True, False] and data["rejected_safe"] == [True, False, True, False]
    refs = compute_reference_logps(model, data, tok.pad_token_id)
    model.train()
    batch = collate_pairs(list(with_reference(data, refs)), tok.pad_token_id)
    with torch.no_grad():
        chosen, rejected = sequence_logps(model, batch)[0].chunk(2)
    bfpo = BFPO(BFPO.Config(tau=0.5))
    expected = bfpo(PairLogps(chosen.double(), rejected.double(), refs[:, 0].double(), refs[:, 1].double(),
                              chosen_safe=batch["chosen_safe"], rejected_safe=batch["rejected_safe"])).loss
    result = train_pairwise(bfpo, model, with_reference(data, refs), tok.pad_token_id,
                            TrainSettings(steps=1, batch_size=4, micro_batch_size=4, learning_rate=1e-3))
    assert result.history[0]["loss"] == pytest.approx(expected.item(), rel=1e-4)
    plain = tokenize_pairs(pairs(4), tok, TokenizationSettings())
    with pytest.raises(DatasetError, match="bfpo needs each response's safety label"):
        train_pairwise(bfpo, model, with_reference(plain, refs), tok.pad_token_id,
                       TrainSettings(steps=1, batch_size=4, micro_batch_size=4))


@pytest.mark.parametrize("change, message", [
    ({"chosen_safe": "yes"}, r"row 1, field 'chosen_safe': expected true or false, got 'yes'"),
    ({"rejected_safe": None}, r"row 1: field 'chosen_safe' is given but 'rejected_safe' is missing"),
])
def test_bad_safety_labels_are_refused_naming_row_and_field(tiny, change, message):
    _, tok, _ = policy(tiny, quantize=False)
    rows = labelled(3)
    rows[1] = rows[1] | change
    with pytest.raises(DatasetError, match=message):
        tokenize_pairs(rows, tok, TokenizationSettings())
