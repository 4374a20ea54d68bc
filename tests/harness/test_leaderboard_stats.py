"""The leaderboard's statistics (paired test, Holm, two-level bootstrap, rank intervals), one table per
setting, and the ``--train`` budget knobs."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from prefzoo.algorithms.engine.pairwise import TrainSettings
from prefzoo.algorithms.framework.config import ConfigError, replace_fields
from prefzoo.benchmarks.harness.paired_stats import holm, interval, paired_difference, rank_intervals, sign_flip_p
from prefzoo.benchmarks.harness.results import result_path, write_json_atomic
from prefzoo.benchmarks.suites.lm.suite import PROFILES
from prefzoo.leaderboard.render import render


def test_sign_flip_p_by_hand():
    # 4 prompts, differences 1, 2, 3, 4: of the 16 sign patterns only all-plus and all-minus reach |mean| 2.5
    assert sign_flip_p([1, 2, 3, 4]) == pytest.approx(2 / 16)
    # 1, -1, 2: observed |mean| 2/3; patterns with |±1 ±1 ±2| >= 2: (+,-,+), (-,+,+) give 2 and their mirrors,
    # (+,+,+) and (-,-,-) give 4: 6 of 8
    assert sign_flip_p([1, -1, 2]) == pytest.approx(6 / 8)
    assert sign_flip_p([0.0, 0.0]) == 1.0
    # Monte Carlo beyond 16 prompts; where no random pattern reaches the observed mean (a large consistent
    # effect), the normal approximation instead of the floor 1 / (resamples + 1): z = 40 / sqrt(40)
    assert sign_flip_p([1.0] * 40, resamples=999) == pytest.approx(math.erfc(math.sqrt(40) / math.sqrt(2)))
    assert sign_flip_p([1.0] * 40, resamples=999) < 1e-9
    noisy = torch.randn(40, generator=torch.Generator().manual_seed(0)).tolist()
    assert 0.01 < sign_flip_p(noisy, resamples=999) < 1  # hits: still the Monte Carlo share


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_two_level_bootstrap_widens_with_seed_variation():
    g = torch.Generator().manual_seed(0)
    prompts = torch.randn(1, 64, generator=g, dtype=torch.float64)
    same = prompts.repeat(3, 1)
    shifted = same + torch.tensor([[-0.5], [0.0], [0.5]], dtype=torch.float64)  # seeds disagree
    a, b = interval(same), interval(shifted)
    assert a["mean"] == pytest.approx(b["mean"]) and a["seeds"] == 3
    assert (b["high"] - b["low"]) > 1.5 * (a["high"] - a["low"])


def test_paired_difference_pairs_seeds_and_prompts():
    base = {s: torch.linspace(-1, 1, 20, dtype=torch.float64) + s for s in range(3)}
    better = {s: v + 0.1 for s, v in base.items()}
    d = paired_difference(better, base)
    assert d["mean"] == pytest.approx(0.1) and d["low"] == pytest.approx(0.1) and d["high"] == pytest.approx(0.1)
    assert d["p"] < 0.01
    unpaired_seed = paired_difference({7: base[0] + 0.1}, base)  # a seed the base lacks: its seed mean
    assert unpaired_seed["mean"] == pytest.approx(0.1 - 1.0)


def test_rank_intervals_separate_clear_gaps_and_overlap_close_rows():
    g = torch.Generator().manual_seed(1)
    noise = lambda: torch.randn(3, 64, generator=g, dtype=torch.float64) * 0.3  # noqa: E731
    ranks = rank_intervals([noise() + 2.0, noise() + 1.0, noise() + 1.01])
    assert ranks == [(1, 1), (2, 3), (2, 3)]


def _doc(name, rewards, seed=0, steps=6, data_key="k"):
    settings = PROFILES["quick"].to_dict()
    settings["train"]["steps"] = steps
    is_ref = name == "reference"
    n = len(rewards)
    return {"suite": "smol-sentiment", "dataset": "smol-sentiment", "algorithm": name, "seed": seed,
            "hash": f"h{name}{steps}", "profile": "quick", "settings": settings, "data_key": data_key,
            "engine_revision": 2, "config": {}, "origin": "", "has_gold": True, "prefzoo_version": "0.1.0",
            "family": "reference" if is_ref else "pairwise", "paper": "" if is_ref else f"paper of {name}",
            "train": None if is_ref else {"wall_time_s": 10.0, "tokens": 22740, "tokens_per_s": 2274.0, "peak_memory_bytes": 2**30,
                                          "history": []},
            "eval": {"generated_tokens": 1000,
                     "samples": {"prompt_ids": list(range(n)), "texts": [""] * n, "rewards": rewards,
                                 **({} if is_ref else {"log_ratios": [1.0] * n})},
                     "gold_reward": {"mean": sum(rewards) / n, "ci_low": 0.0, "ci_high": 1.0, "n": n}}}


def _write(results, doc):
    write_json_atomic(result_path(results, doc["suite"], doc["algorithm"], doc["seed"], doc["hash"]), doc)


def test_two_settings_render_as_two_sections_each_with_its_own_reference(tmp_path):
    results, board = tmp_path / "results", tmp_path / "board"
    base = [0.1 * (i % 5) for i in range(32)]
    for steps in (6, 40):
        for seed in range(3):
            _write(results, _doc("reference", base, seed, steps))
            _write(results, _doc("dpo", [r + 0.3 for r in base], seed, steps))
            if steps == 6:
                _write(results, _doc("ipo", base, seed, steps))
    readme, _ = render(results, board)
    text = readme.read_text()
    sections = text.split("### smol-sentiment · ")[1:]
    assert len(sections) == 2
    assert all(s.count("| reference | reference |") == 1 for s in sections)  # one reference row per table
    six, forty = sorted(sections, key=lambda s: "40 steps" in s)
    assert "6 steps of 8 pairs" in six and "40 steps of 8 pairs" in forty
    assert "`ipo` is indistinguishable from it" in six and "| dpo ▲ |" in six
    assert "Partial: not run at this setting:" in forty and "`ipo`" in forty.split("Partial")[1].split("\n")[0]
    assert "Smoke run" not in text  # three seeds per row
    # dpo − reference is 0.3 on every prompt and seed and ipo − reference 0: nothing to detect, no noise
    assert ("**Power.** At 3 seeds × 32 held-out prompts, with 80% power at two-sided α = 0.05 (before Holm), this "
            "table detects a difference in gold from the reference of 0.000 (median; 0.000–0.000 over 2 rows)") in six
    # two rows and three seeds: of the 8 within-seed label swaps, 2 (none, all) keep the observed F: p ≥ 1/4
    assert "All algorithms equal?" in six and "F(1, 2) = " in six and "permutation p = 0.2" in six
    assert "not testable (it needs two rows, and two seeds that every row has)" in forty  # dpo alone


def test_one_seed_is_labelled_a_smoke_run(tmp_path):
    results, board = tmp_path / "results", tmp_path / "board"
    base = [0.1 * (i % 5) for i in range(32)]
    _write(results, _doc("reference", base))
    _write(results, _doc("dpo", base))
    text = render(results, board)[0].read_text()
    assert "Smoke run (1 seed per row): not evidence." in text
    assert "With one seed the seed-to-seed variance is unseen" in text
    for seed in (1, 2):  # the reference and dpo at three seeds, a new row at one: only that row is not evidence
        _write(results, _doc("reference", base, seed))
        _write(results, _doc("dpo", base, seed))
    _write(results, _doc("ipo", base))
    text = render(results, board)[0].read_text()
    assert "Smoke run" not in text and "`ipo` ran fewer than 3 seeds: not evidence." in text


def test_train_overrides_are_parsed_validated_and_change_the_hash():
    quick = PROFILES["quick"].train
    train = replace_fields(quick, ["learning_rate=3e-4", "steps=24", "warmup_steps=2", "batch_size=8"], "--train")
    assert (train.learning_rate, train.steps, train.warmup_steps) == (3e-4, 24, 2)
    assert dataclasses.replace(quick, learning_rate=3e-4, steps=24, warmup_steps=2) == train
    with pytest.raises(ConfigError, match="no field 'learning_rat'; did you mean 'learning_rate'"):
        replace_fields(quick, ["learning_rat=1e-4"], "--train")
    with pytest.raises(ConfigError, match="--train steps = 'ten': expected int"):
        replace_fields(quick, ["steps=ten"], "--train")
    with pytest.raises(ConfigError, match="no field 'seed'"):
        replace_fields(quick, ["seed=3"], "--train", frozen=("seed",))
    with pytest.raises(ConfigError, match="learning_rate = -0.1: must be > 0"):
        replace_fields(quick, ["learning_rate=-0.1"], "--train")
    with pytest.raises(ConfigError, match="not a multiple of micro_batch_size"):
        replace_fields(quick, ["batch_size=12"], "--train")
    assert isinstance(train, TrainSettings)
