"""A user's preference file with ``--judge``: every family trains, the judge is the gold, and the rows are
ranked by it; without a judge the online and RL families are refused with the flag named; a bad judge is
refused before anything is written."""

from __future__ import annotations

import json

import pytest

from prefzoo.benchmarks.harness.results import load_results
from tests.helpers import run_cli
from tests.tiny_lm import make_tiny_lm, pairs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "prefs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in pairs(30)) + "\n")
    return tmp_path


def test_without_a_judge_the_online_and_rl_families_are_refused_naming_the_flag(tiny, env):
    out = run_cli("bench", "--suite", "preference-dataset", "--dataset", "prefs.jsonl", "--algorithms", "online-dpo",
                  "--model", str(tiny), "--results", "results", cwd=env)
    assert out.returncode == 2 and not (env / "results").exists()
    assert "prefs has none. Give the run a judge as its gold, e.g. --judge textblob" in " ".join(out.stdout.split())


def test_a_bad_judge_is_refused_before_anything_is_written(tiny, env):
    for judge, message in (("textblb", "unknown judge 'textblb'; did you mean 'textblob'"),
                           ("reward-model:./nowhere", "./nowhere is not a folder"),
                           (f"reward-model:{tiny}", "is a causal LM (LlamaForCausalLM), not a reward model")):
        out = run_cli("bench", "--suite", "preference-dataset", "--dataset", "prefs.jsonl", "--algorithms", "dpo",
                      "--judge", judge, "--model", str(tiny), "--results", "results", cwd=env)
        assert out.returncode == 2 and message in " ".join(out.stdout.split()), out.stdout
        assert not (env / "results").exists() and not (env / "runs").exists()


@pytest.mark.slow
def test_with_a_judge_every_family_trains_and_the_judge_ranks(tiny, env):
    from prefzoo.benchmarks.judges.base import make_judge

    out = run_cli("bench", "--suite", "preference-dataset", "--dataset", "prefs.jsonl", "--judge", "textblob",
                  "--algorithms", "dpo,online-dpo,ppo", "--steps", "2", "--model", str(tiny), "--results", "results",
                  "--plot", "p.png", cwd=env)
    assert out.returncode == 0, out.stdout + out.stderr
    docs = {d["algorithm"]: d for d in load_results(env / "results", "preference-dataset")}
    assert set(docs) == {"reference", "dpo", "online-dpo", "ppo"}
    judge = make_judge("textblob")
    for doc in docs.values():
        assert doc["has_gold"] and doc["data_options"]["judge"]["spec"] == "textblob"
        samples = doc["eval"]["samples"]
        assert samples["rewards"] == judge.score([None] * len(samples["texts"]), samples["texts"]).tolist()
    assert docs["online-dpo"]["train"]["oracle_queries"] > 0
    assert all("gold_reward" in point for point in docs["ppo"]["train"]["curve"])
    assert "win_rate" in docs["dpo"]["eval"] and "pair_accuracy" in docs["dpo"]["eval"]
    plain = run_cli("bench", "--suite", "preference-dataset", "--dataset", "prefs.jsonl", "--algorithms", "dpo",
                    "--steps", "2", "--model", str(tiny), "--results", "results", "--plot", "p.png", cwd=env)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    hashes = {d["hash"] for d in load_results(env / "results", "preference-dataset") if d["algorithm"] == "dpo"}
    assert len(hashes) == 2  # the judge is part of the setting
    board = run_cli("leaderboard", "--results", "results", "--out", "board", cwd=env)
    readme = (env / "board" / "README.md").read_text()
    assert board.returncode == 0 and "with the judge `textblob` as its gold" in readme
