"""Reward models on the shared base (tiny random model, no download): a separate adapter and head,
training that leaves the policy and the reference untouched, IDS labels that move, save and load."""

from __future__ import annotations

import pytest
import torch

from prefzoo.algorithms.engine.data import TokenizationSettings, collate_pairs, tokenize_pairs
from prefzoo.algorithms.engine.logprobs import sequence_logps
from prefzoo.algorithms.engine.models import reference_mode
from prefzoo.algorithms.engine.pairwise import TrainSettings
from prefzoo.algorithms.engine.reward_eval import reward_diagnostics
from prefzoo.algorithms.engine.reward_model import RewardModel, train_reward_model
from prefzoo.registry import ALGORITHMS
from tests.tiny_lm import make_tiny_lm, pairs, policy


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


def test_reward_training_switches_adapters_and_leaves_policy_and_reference_alone(tiny, tmp_path):
    settings, tok, model = policy(tiny, quantize=False)
    rows = list(tokenize_pairs(pairs(8), tok, TokenizationSettings()))
    batch = collate_pairs(rows, tok.pad_token_id)
    model.eval()
    with torch.no_grad():
        policy_before = sequence_logps(model, batch)[0]
        with reference_mode(model):
            ref_before = sequence_logps(model, batch)[0]
    reward_model = RewardModel.create(model, settings, adapter="reward", seed=1)
    assert model.active_adapter == "default"
    assert torch.equal(reward_model.score_pairs(rows, tok.pad_token_id)[0], torch.zeros(8))  # zero head
    ids = ALGORITHMS.get("ids")
    result = train_reward_model(ids(ids.Config(alpha=5e-2, beta=0.5)), reward_model, rows, tok.pad_token_id,
                                TrainSettings(batch_size=4, micro_batch_size=2, max_grad_norm=0.0), epochs=3)
    assert model.active_adapter == "default" and len(result.history) == 6
    chosen, rejected = reward_model.score_pairs(rows, tok.pad_token_id)
    assert (chosen - rejected).mean() > 0  # it learned to prefer the chosen responses
    assert (result.labels < 1).all()  # IDS moved every label toward the model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".default." in n for n in trainable)  # the policy's adapter trains again
    model.eval()
    with torch.no_grad():
        assert torch.equal(sequence_logps(model, batch)[0], policy_before)
        with reference_mode(model):
            assert torch.equal(sequence_logps(model, batch)[0], ref_before)

    saved = reward_model.save(tmp_path / "rm")
    assert (saved / "adapter_config.json").exists()
    _, _, fresh = policy(tiny, quantize=False)
    reloaded = RewardModel.load(fresh, tmp_path / "rm", adapter="reward")
    again_c, again_r = reloaded.score_pairs(rows, tok.pad_token_id)
    assert torch.allclose(again_c, chosen, atol=1e-5) and torch.allclose(again_r, rejected, atol=1e-5)


def test_reward_diagnostics_by_hand():
    chosen, rejected = torch.tensor([2.0, 0.0, 1.0]), torch.tensor([0.0, 1.0, 1.0])
    gold_c, gold_r = torch.tensor([0.9, 0.5, 0.2]), torch.tensor([0.1, 0.4, 0.1])
    d = reward_diagnostics(chosen, rejected, gold_c, gold_r, label_temperature=0.1)
    assert d["pair_accuracy"] == pytest.approx(1 / 3)
    r, g = torch.tensor([2.0, 0, 1, 0, 1, 1]), torch.tensor([0.9, 0.5, 0.2, 0.1, 0.4, 0.1])
    assert d["correlation"] == pytest.approx(float(torch.corrcoef(torch.stack([r, g]))[0, 1]), abs=1e-6)
    sig = torch.sigmoid
    p, target = sig(chosen - rejected), sig((gold_c - gold_r) / 0.1)
    # p = 0.881, 0.269, 0.5 fall in bins 8, 2, 5: one pair each
    assert d["ece"] == pytest.approx(float((p - target).abs().mean()), abs=1e-6)


def test_rank_correlation_margin_thirds_and_intervals_by_hand():
    from prefzoo.algorithms.engine.reward_eval import average_ranks, spearman

    assert average_ranks(torch.tensor([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]
    # Spearman is Pearson on the ranks; a monotone transform leaves it at 1.
    x = torch.tensor([0.1, 0.5, 0.2, 0.9])
    assert spearman(x, x.exp() * 3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    chosen = torch.tensor([1.0, 0.0, 2.0, 0.0, 3.0, 1.0])
    rejected = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    gold_c = torch.tensor([0.1, 0.2, 0.5, 0.6, 0.9, 1.0])
    gold_r = torch.zeros(6)
    d = reward_diagnostics(chosen, rejected, gold_c, gold_r, label_temperature=0.1)
    # thirds by gold margin: pairs (0, 1), (2, 3), (4, 5) → accuracy 1/2, 1/2, 1
    assert [t["accuracy"] for t in d["accuracy_by_margin"]] == [0.5, 0.5, 1.0]
    assert [t["pairs"] for t in d["accuracy_by_margin"]] == [2, 2, 2]
    assert d["accuracy_by_margin"][0]["margin_low"] == pytest.approx(0.1)
    r, g = torch.cat([chosen, rejected]), torch.cat([gold_c, gold_r])
    assert d["spearman"] == pytest.approx(float(torch.corrcoef(torch.stack([average_ranks(r), average_ranks(g)]))[0, 1]))
    for key in ("pair_accuracy", "correlation", "spearman"):
        low, high = d[f"{key}_ci"]
        assert low <= d[key] <= high and low < high, key
    assert reward_diagnostics(chosen, rejected, gold_c, gold_r, 0.1) == d  # seeded


def test_implied_temperature_recovers_the_labellers():
    """A model whose margins are the gold margins over T implies T; twice those margins imply T / 2."""
    gold_c, gold_r = torch.tensor([0.9, 0.5, 0.2, 0.7]), torch.tensor([0.1, 0.4, 0.3, -0.2])
    exact = reward_diagnostics(gold_c / 0.25, gold_r / 0.25, gold_c, gold_r, label_temperature=0.25)
    assert exact["implied_temperature"] == pytest.approx(0.25) and exact["ece"] == pytest.approx(0.0, abs=1e-12)
    bold = reward_diagnostics(gold_c / 0.125, gold_r / 0.125, gold_c, gold_r, label_temperature=0.25)
    assert bold["implied_temperature"] == pytest.approx(0.125)
    assert reward_diagnostics(-gold_c, -gold_r, gold_c, gold_r, 0.25)["implied_temperature"] is None
