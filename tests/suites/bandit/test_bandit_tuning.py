"""``prefzoo bench --suite bandit --tune N``: the online, RL and reward-learning parts select each
algorithm's config on validation seeds apart from the test seeds, and report it in a section of its own."""

from __future__ import annotations

import dataclasses

import pytest

from prefzoo.benchmarks.harness.results import result_files
from prefzoo.benchmarks.suites.bandit.online import OnlineBanditSettings, run_online_bandit
from prefzoo.benchmarks.suites.bandit.reward import RewardBanditSettings, run_reward_bandit
from prefzoo.benchmarks.suites.bandit.suite import BanditSuite
from prefzoo.benchmarks.suites.bandit.tuning import VALIDATION_FIRST_SEED
from prefzoo.registry import ALGORITHMS


def test_bandit_tune_selects_on_validation_seeds_and_reports_a_tuned_section(tmp_path):
    online, ids, dpo = (ALGORITHMS.get(n) for n in ("online-dpo", "ids", "dpo"))
    logged = []
    docs = BanditSuite().run([online, ids, dpo], tmp_path, seeds=2, tune=3, log=logged.append)
    assert any(line.startswith("dpo: not tuned") for line in logged)  # the pairwise part has no objective
    assert {d["algorithm"] for d in docs} == {"online-dpo", "ids"} and len(docs) == 4
    validation = {"online-dpo": (run_online_bandit, OnlineBanditSettings(seeds=2)),
                  "ids": (run_reward_bandit, RewardBanditSettings(seeds=2))}
    for doc in docs:
        record = doc["tuning"]
        scores = [c["validation_score"] for c in record["candidates"]]
        assert len(scores) == 3 and record["best"] == scores.index(max(scores))
        # the defaults (trial 1) stay unless the best trial's paired gain over them exceeds the noise
        assert record["selected"] == (record["best"] if record["gain"] > record["noise"] else 0)
        assert record["rule"].startswith("the defaults unless")
        assert doc["config"] == record["candidates"][record["selected"]]["config"]
        # the recorded score is what the selected config scores on the validation seeds, and not on the test ones
        run_fn, settings = validation[doc["algorithm"]]
        cls = ALGORITHMS.get(doc["algorithm"])
        config = cls.Config.from_dict(doc["config"])
        on_validation = run_fn(cls, config, dataclasses.replace(settings, first_seed=VALIDATION_FIRST_SEED))
        on_test = run_fn(cls, config, settings)
        read = ((lambda r: float(r.final_reward.double().mean())) if doc["algorithm"] == "online-dpo"
                else (lambda r: -float(r.error_all[-1].double().mean())))
        assert read(on_validation) == pytest.approx(scores[record["selected"]], abs=1e-6)
        assert read(on_test) != pytest.approx(scores[record["selected"]], abs=1e-6)
    # a tuned cell is a setting of its own: its hash differs from the same config's untuned cell
    untuned = BanditSuite().run([online], tmp_path, seeds=2, base_configs={
        "online-dpo": online.Config.from_dict(next(d for d in docs if d["algorithm"] == "online-dpo")["config"])},
        strengths=[next(d for d in docs if d["algorithm"] == "online-dpo")["config"]["beta"]])
    assert untuned[0]["hash"] != next(d for d in docs if d["algorithm"] == "online-dpo")["hash"]
    suite = BanditSuite()
    section = suite.section(suite.read(result_files(tmp_path)), tmp_path)
    assert "### Tuned (3 trials per algorithm)" in section and "Validation scores of every trial" in section
    assert "| selection |" in section and ("defaults kept: trial" in section or "> noise" in section)
    untuned_part, tuned_part = section.split("### Tuned")
    assert "online-dpo" in untuned_part and "ids" not in untuned_part and "ids" in tuned_part


def test_bandit_tune_refuses_strengths():
    with pytest.raises(ValueError, match="drop --strengths"):
        BanditSuite().run([ALGORITHMS.get("online-dpo")], None, seeds=1, tune=2, strengths=[0.1])
