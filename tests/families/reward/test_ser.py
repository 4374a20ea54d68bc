"""Self-Evolved Reward learning: the selection rule and the status switch by hand, and its rounds on the
long-tailed comparison bandit checked against a by-hand replay of the same rounds."""

from __future__ import annotations

import dataclasses

import torch

import pytest

from prefzoo.benchmarks.suites.bandit.reward import RewardBanditSettings, _fit, comparisons, run_reward_bandit
from prefzoo.registry import ALGORITHMS
from tests.helpers import interval, lm_result, lm_results

SER, BT = ALGORITHMS.get("ser"), ALGORITHMS.get("bt")


def test_selection_rule_by_hand():
    ser = SER()  # τ_high 0.55, τ_low 0.45, τ_Δ 0.3
    p_first = torch.tensor([0.60, 0.40, 0.60, 0.90, 0.52, 0.20, 0.50])
    p_second = torch.tensor([0.40, 0.60, 0.50, 0.55, 0.20, 0.52, 0.50])
    keep, first = ser.select(p_first, p_second, 1)
    assert keep.tolist() == [True, True, False, False, False, False, False]
    assert first[keep].tolist() == [True, False]
    # Status 2 keeps status 1's pairs and those whose σ(r) differ by more than τ_Δ (0.35, 0.32, −0.32).
    keep, first = ser.select(p_first, p_second, 2)
    assert keep.tolist() == [True, True, False, True, True, True, False]
    assert first[keep].tolist() == [True, False, True, True, False]
    # A per-row status (the bandit's seeds) broadcasts.
    keep, _ = ser.select(p_first.expand(2, 7), p_second.expand(2, 7), torch.tensor([[1], [2]]))
    assert keep.sum(1).tolist() == [2, 5]


def test_same_selection_compares_pairs_and_labels_but_not_labels_of_dropped_pairs():
    same = SER.same_selection
    keep, first = torch.tensor([True, False]), torch.tensor([True, True])
    assert same(keep, first, torch.tensor([True, False]), torch.tensor([True, False]))  # row 2 not kept
    assert not same(keep, first, torch.tensor([True, True]), torch.tensor([True, True]))  # a pair dropped
    assert not same(keep, first, torch.tensor([True, False]), torch.tensor([False, False]))  # a label flipped
    assert SER.improved(torch.tensor([0.5, 0.4]), torch.tensor([0.5, 0.5])).tolist() == [True, False]


def test_with_every_label_ser_is_bradley_terry_on_its_training_share():
    """Nothing is withheld, so there is nothing to self-label: the seed model, trained on the labels
    left after the validation fifth, is the result."""
    settings = RewardBanditSettings(seeds=3, epochs=200, checkpoints=(200,))
    ser = run_reward_bandit(SER, SER.Config(), settings)
    bt = run_reward_bandit(BT, BT.Config(), dataclasses.replace(settings, label_fraction=0.8))
    assert ser.rounds.tolist() == [0, 0, 0] and ser.self_labelled.tolist() == [0, 0, 0]
    assert torch.equal(ser.rewards, bt.rewards) and ser.labelled == 60 and bt.labelled == 48


def test_one_round_on_the_bandit_replayed_by_hand():
    """Seed model on the 14 training labels; it labels the 42 withheld comparisons by the status-1
    rule; a model refitted from r = 0 on both is kept where validation accuracy (4 labels) does not
    fall."""
    settings = RewardBanditSettings(seeds=6, epochs=300, checkpoints=(300,), label_fraction=0.3)
    config = SER.Config(rounds=1)
    run = run_reward_bandit(SER, config, settings)
    ser = SER(config)
    first, second, preferred = comparisons(settings)
    chosen, rejected = torch.where(preferred, first, second), torch.where(preferred, second, first)
    counts = run.counts
    rare = (counts <= settings.rare_max) & (counts > 0)
    index = torch.arange(settings.comparisons).expand(settings.seeds, -1)
    r0, _, _ = _fit(ser, chosen, rejected, (index < 14).double(), settings, rare)
    keep, first_won = ser.select(torch.sigmoid(r0.gather(1, first)), torch.sigmoid(r0.gather(1, second)), 1)
    keep &= index >= 18
    assert keep.any()
    r1, _, _ = _fit(ser, torch.where(keep, torch.where(first_won, first, second), chosen),
                    torch.where(keep, torch.where(first_won, second, first), rejected),
                    (index < 14).double() + keep.double(), settings, rare)
    valid = (index >= 14) & (index < 18)

    def accuracy(r):
        return ((r.gather(1, chosen) > r.gather(1, rejected)) & valid).sum(1) / 4

    kept = accuracy(r1) >= accuracy(r0)
    assert run.rounds.tolist() == kept.long().tolist()
    assert torch.allclose(run.rewards, torch.where(kept[:, None], r1, r0))
    assert run.self_labelled.tolist() == torch.where(kept, keep.sum(1), 0).float().tolist()


def test_the_label_budget_keeps_a_seeded_share_and_hides_the_order_of_the_rest():
    from prefzoo.algorithms.engine.runners import label_budget
    from prefzoo.algorithms.engine.self_evolved import swapped

    rows = [{"prompt_ids": [i], "chosen_ids": [i, 1], "rejected_ids": [i, 0], "ref_chosen": 1.0 * i,
             "ref_rejected": -1.0 * i} for i in range(40)]
    labelled, unlabelled = label_budget(rows, 0.25, seed=3)
    assert len(labelled) == 10 and len(unlabelled) == 30 and label_budget(rows, 0.25, seed=3)[0] == labelled
    assert all(row in rows for row in labelled)
    flipped = [row for row in unlabelled if row not in rows]
    assert 5 < len(flipped) < 25 and all(swapped(row) in rows for row in flipped)
    assert swapped(rows[2]) == {"prompt_ids": [2], "chosen_ids": [2, 0], "rejected_ids": [2, 1],
                                "ref_chosen": -2.0, "ref_rejected": 2.0}
    assert label_budget(rows, 1.0, seed=3) == (rows, [])


@pytest.mark.slow
def test_ser_and_bt_on_a_label_budget_in_the_lm_suite(tmp_path, monkeypatch):
    from prefzoo.benchmarks.suites.lm.report import describe_setting
    from prefzoo.benchmarks.harness.results import load_results
    from tests.helpers import run_cli
    from tests.tiny_lm import make_tiny_lm

    tiny = make_tiny_lm(tmp_path / "model")
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    args = ["bench", "--suite", "smol-sentiment", "--steps", "4", "--seeds", "1", "--model", str(tiny),
            "--train", "batch_size=4,micro_batch_size=4", "--labels", "0.5", "--results", str(tmp_path / "results"),
            "--plot", str(tmp_path / "p.png")]
    refused = run_cli(*args, "--algorithms", "dpo", cwd=tmp_path)
    assert refused.returncode == 2 and "'dpo' is pairwise: run it without --labels" in refused.stdout
    # A random tiny model's rewards sit near 0, so σ(r) ≈ 0.5 and status 1 keeps nothing; a tiny τ_Δ makes
    # status 2 keep the pairs, so a retraining round runs.
    out = run_cli(*args, "--algorithms", "bt,ser", "--set", "ser.gap=1e-6", cwd=tmp_path, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    docs = {d["algorithm"]: d for d in load_results(tmp_path / "results", "smol-sentiment")}
    bt, ser = docs["bt"], docs["ser"]
    for doc in (bt, ser):  # 4 steps × 4 pairs read, half of them labelled
        assert (doc["train"]["labelled_pairs"], doc["train"]["unlabelled_pairs"]) == (8, 8)
        assert doc["train"]["oracle_queries"] == 8 and doc["settings"]["reward_labels"] == 0.5
    assert "labels of a random 50% of the pairs" in describe_setting(lm_results(bt)[0])
    evolution = ser["train"]["self_evolution"]
    assert (evolution["labelled_train_pairs"], evolution["validation_pairs"]) == (6, 2)
    rounds, kept = evolution["rounds"], evolution["kept_round"]
    assert rounds[1]["status"] == 2 and rounds[1]["self_labelled"] > 0
    accuracies = [r["validation_accuracy"] for r in rounds]
    assert all(accuracies[i + 1] >= accuracies[i] for i in range(kept))  # every kept step did not fall
    if evolution["stopped"] == "validation accuracy fell":
        assert accuracies[-1] < accuracies[kept] and len(rounds) == kept + 2
    assert all(0 <= r["self_labelled"] <= 8 for r in rounds) and evolution["self_labelled"] == rounds[kept]["self_labelled"]
    assert "ser: seed model on 6 labelled pairs" in out.stdout


def test_the_label_budget_curve_lines_up_settings_that_differ_only_in_the_share_of_labels():
    from prefzoo.benchmarks.suites.lm.reward_report import label_budget_rows

    def doc(name, share, accuracy, seed=0, lr=1e-4):
        settings = {"train": {"learning_rate": lr}, **({"reward_labels": share} if share < 1 else {})}
        return lm_result(algorithm=name, config={"alpha": 1e-3}, settings=settings, seed=seed, hash=name,
                         train={"pairs": 96, "labelled_pairs": round(96 * share)},
                         eval={"reward": {"pairs": 8, "pair_accuracy": accuracy, "pair_accuracy_ci": [0, 1],
                                          "correlation": 0.5, "correlation_ci": [0, 1], "ece": 0.1}})

    def policy(name, share, rewards, learner="bt", learner_config=None):
        d = doc(name, share, 0.0)
        d.update(config={"reward_learner": learner, "reward_learner_config": learner_config}, family="rl",
                 paper="", profile="quick", hash=name, train=lm_result(train={})["train"],
                 eval={"samples": {"prompt_ids": [0, 1, 2, 3], "texts": [""] * 4, "rewards": rewards},
                       "generated_tokens": 0, "gold_reward": interval(sum(rewards) / 4)})
        return d

    docs = [doc("bt", 1.0, 0.84), doc("bt", 1.0, 0.80, seed=1), doc("bt", 0.1, 0.60), doc("ser", 0.1, 0.65),
            doc("bt", 0.3, 0.70, lr=2e-3)]  # another budget: not on bt's curve
    headers, rows = label_budget_rows(lm_results(*docs))
    assert [r[:4] for r in rows] == [["bt", "100%", "96", "2"], ["bt", "10%", "10", "1"]]
    assert rows[0][4].startswith("0.820 ± ") and rows[1][4] == "0.600" and rows[0][5] == "—"  # no OOD pairs
    assert rows[0][8] == rows[1][8] == "—"  # no policy was trained on either model
    assert label_budget_rows(lm_results(doc("ser", 0.1, 0.65))) == (headers, [])  # one share: no curve
    # PPO on bt's 10% model in bt's 10% setting, paired with that setting's reference on the same prompts;
    # a policy on a differently configured bt, or on another learner's model, is not bt's at 10%.
    reference = policy("reference", 0.1, [0.0, 0.1, 0.2, 0.3])
    reference.update(algorithm="reference", config={}, train=None)
    docs += [reference, policy("ppo", 0.1, [0.5, 0.6, 0.7, 0.8]),
             policy("grpo", 0.1, [0.0] * 4, "bt", '{"alpha": 0.5}'),
             policy("rloo", 1.0, [0.0] * 4, "ser")]
    rows = label_budget_rows(lm_results(*docs))[1]
    assert rows[0][8] == "—" and rows[1][8].startswith("ppo 0.650 [") and ", Δ +0.500 [+0.500, +0.500]" in rows[1][8]
    assert "grpo" not in rows[1][8] and "rloo" not in rows[0][8]
