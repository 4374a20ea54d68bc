"""``--tune N``: the same N trials for every algorithm from its declared search space, selection on
validation prompts disjoint from the test prompts, and a leaderboard section of its own."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import torch

from prefzoo.algorithms.framework.config import AlgorithmConfig, param
from prefzoo.algorithms.framework.search_space import search_space, trial_configs
from prefzoo.benchmarks.harness.results import load_results
from prefzoo.benchmarks.suites.smol_sentiment.data import DataSettings, make_prompts, validation_prompts
from prefzoo.registry import ALGORITHMS
from tests.helpers import run_cli


def test_trial_one_is_the_default_and_every_algorithm_gets_the_same_draws():
    dpo, ipo = (trial_configs(n, ALGORITHMS.get(n).Config, 5) for n in ("dpo", "ipo"))
    assert dpo[0] == ALGORITHMS.get("dpo").Config() and len(dpo) == 5
    # both spaces are log [0.01, 1] around a default of 0.1, so the same Sobol points give the same values
    assert [c.beta for c in dpo] == pytest.approx([c.tau for c in ipo])
    assert all(0.01 <= c.beta <= 1.0 for c in dpo) and len({c.beta for c in dpo}) == 5
    assert trial_configs("dpo", ALGORITHMS.get("dpo").Config, 5) == dpo  # deterministic
    assert search_space(ALGORITHMS.get("simpo").Config) == {"beta": (0.2, 20.0, "log")}
    assert len(trial_configs("bt", ALGORITHMS.get("bt").Config, 4)) == 1  # nothing to search: its defaults


def test_a_declared_range_replaces_the_strength_rule_and_bad_ranges_are_refused():
    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β."""
        gamma: float = param(0.5, ge=0, search=(0.0, 2.0, "linear"))
        """γ."""

    assert search_space(Config) == {"gamma": (0.0, 2.0, "linear")}
    configs = trial_configs("x", Config, 3)
    assert [c.beta for c in configs] == [0.1] * 3 and all(0 <= c.gamma <= 2 for c in configs)
    with pytest.raises(ValueError, match="low < high"):
        param(1.0, search=(2.0, 1.0, "log"))
    with pytest.raises(ValueError, match="low > 0 on a log scale"):
        param(1.0, search=(0.0, 1.0, "log"))


def test_validation_prompts_are_disjoint_from_the_data_and_leave_the_data_unchanged():
    settings = DataSettings(train_prompts=400, eval_prompts=64)
    train, test = make_prompts(settings)
    validation = validation_prompts(settings, 64)
    text = lambda ps: {p[1]["content"] for p in ps}  # noqa: E731
    assert len(text(validation)) == 64 and not text(validation) & (text(train) | text(test))
    assert make_prompts(settings) == (train, test)


@pytest.mark.slow
def test_tune_selects_on_validation_and_reports_a_tuned_section(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    results, runs = tmp_path / "results", tmp_path / "runs"
    common = ["bench", "--suite", "smol-sentiment", "--seeds", "1", "--steps", "1", "--algorithms", "dpo", "--model",
              str(tiny), "--results", str(results), "--runs", str(runs), "--plot", str(tmp_path / "p.png")]
    assert run_cli(*common, cwd=tmp_path).returncode == 0
    out = run_cli(*common, "--tune", "3", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    trials = [json.loads(p.read_text()) for p in (runs / "smol-sentiment" / "tuning" / "dpo").glob("trial-*.json")]
    assert sorted(t["trial"] for t in trials) == [0, 1, 2]
    docs = [d for d in load_results(results, "smol-sentiment") if d["algorithm"] == "dpo"]
    tuned = next(d for d in docs if d.get("tuning"))
    scores = [c["validation_gold_reward"] for c in tuned["tuning"]["candidates"]]
    t = tuned["tuning"]
    assert t["best"] == max(range(3), key=lambda i: (scores[i], -i))
    # the defaults (trial 1) stay unless the best trial's gain, paired on the validation prompts, exceeds the noise
    per_prompt = [torch.tensor(trial["prompt_rewards"], dtype=torch.float64)
                  for trial in sorted(trials, key=lambda trial: trial["trial"])]
    gain = per_prompt[t["best"]] - per_prompt[0]
    noise = 1.959964 * float(gain.std()) / len(gain) ** 0.5
    assert t["gain"] == pytest.approx(float(gain.mean()), abs=1e-5)
    assert t["noise"] == pytest.approx(noise, abs=1e-5) or t["best"] == 0
    assert t["selected"] == (t["best"] if float(gain.mean()) > noise else 0)
    assert tuned["config"] == t["candidates"][t["selected"]]["config"]
    assert tuned["label"].endswith(", defaults kept)") == (t["selected"] != t["best"])
    assert all(math.isfinite(s) for s in scores) and len(docs) == 2  # the untuned cell is a different file
    assert tuned["label"].startswith("dpo (beta=")
    board = run_cli("leaderboard", "--results", str(results), "--out", str(tmp_path / "board"), cwd=tmp_path)
    assert board.returncode == 0, board.stdout + board.stderr
    readme = (tmp_path / "board" / "README.md").read_text()
    assert board.returncode == 0 and "· tuned: 3 trials" in readme
    tuned_part = readme[readme.index("· tuned: 3 trials"):]
    assert "| reference |" in tuned_part.split("\n### ")[0] and "selected from 3 trials" in tuned_part
    again = run_cli(*common, "--tune", "3", cwd=tmp_path)
    assert again.returncode == 0 and "trial 1/3" not in again.stdout  # finished trials are read back
    refused = run_cli("bench", "--suite", "smol-sentiment", "--algorithms", "bt", "--tune", "2", "--model", str(tiny),
                      "--results", str(results), cwd=tmp_path)
    assert refused.returncode == 2 and "'bt' trains a reward model" in refused.stdout
