"""A user's preference file with ``--judge``: every family trains, the judge is the gold, and the rows are
ranked by it; a saved reward model judges from the command line; without a judge the online and RL
families are refused with the flag named; a bad judge is refused before anything is written, and one that
fails mid-run fails its cells with its error, writing nothing half-done."""

from __future__ import annotations

import json

import pytest

from prefzoo.benchmarks.harness.results import load_results
from tests.helpers import run_cli
from tests.tiny_lm import pairs


@pytest.fixture
def env(env):
    """The LM tests' working folder with a preference file of 30 pairs in it."""
    (env / "prefs.jsonl").write_text("\n".join(json.dumps(r) for r in pairs(30)) + "\n")
    return env


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
    assert board.returncode == 0, board.stdout + board.stderr
    readme = (env / "board" / "README.md").read_text()
    assert board.returncode == 0 and "with the judge `textblob` as its gold" in readme


@pytest.mark.slow
def test_a_judge_that_fails_mid_run_fails_its_cells_with_its_error_and_writes_nothing_half_done(tiny, env):
    from tests.helpers import make_plugin

    source = ("from prefzoo.benchmarks.judges.base import Judge\n"
              "class Down(Judge):\n    summary = 'a judge whose server is down'\n"
              "    def score(self, prompts, completions):\n"
              "        raise ConnectionError('judge server down')\n")
    (env / "site").mkdir()
    site = make_plugin(env / "site", "downjudge", "downjudge", source, {"down": "downjudge:Down"},
                       group="prefzoo.judges")
    out = run_cli("bench", "--suite", "preference-dataset", "--dataset", "prefs.jsonl", "--judge", "down",
                  "--algorithms", "dpo", "--seeds", "1", "--steps", "2", "--model", str(tiny), "--results", "results",
                  site=site, cwd=env)
    text = " ".join(out.stdout.split())
    assert out.returncode == 2 and "cell(s) failed" in text, out.stdout + out.stderr
    assert "reference seed 0: ConnectionError: judge server down" in text  # the cell, with the judge's error
    assert "dpo seed 0: not run: its seed's reference cell failed" in text
    assert not list((env / "results").rglob("*.json")) and not list(env.rglob("*.tmp*"))


@pytest.mark.slow
def test_a_reward_model_judges_a_users_file_from_the_command_line(tiny, env):
    """``--judge reward-model:PATH`` trains all four families on a user's file: the policies' samples are
    scored by the saved model's one logit, as the judge scores them on its own, and the leaderboard ranks
    them by it."""
    from prefzoo.benchmarks.judges.base import make_judge
    from prefzoo.benchmarks.suites.lm.sources import PreferenceDataset
    from tests.tiny_lm import make_tiny_reward_model

    rm = make_tiny_reward_model(env / "rm")
    out = run_cli("bench", "--suite", "preference-dataset", "--dataset", "prefs.jsonl", "--judge", f"reward-model:{rm}",
                  "--algorithms", "dpo,online-dpo,bt,ppo", "--seeds", "1", "--steps", "2", "--model", str(tiny),
                  "--results", "results", "--plot", "p.png", cwd=env)
    assert out.returncode == 0, out.stdout + out.stderr
    docs = {d["algorithm"]: d for d in load_results(env / "results", "preference-dataset")}
    assert {d["family"] for d in docs.values()} == {"reference", "pairwise", "online-preference", "reward-learning",
                                                    "rl-with-reward"}
    judge = make_judge(f"reward-model:{rm}")
    assert docs["dpo"]["data_options"]["judge"]["fingerprint"] == judge.fingerprint()
    samples = docs["dpo"]["eval"]["samples"]
    held_out = PreferenceDataset(str(env / "prefs.jsonl")).load(None, None, "").eval_prompts
    expected = judge.score([held_out[i] for i in samples["prompt_ids"]], samples["texts"])
    assert samples["rewards"] == pytest.approx(expected.tolist(), abs=1e-5) and len(set(samples["rewards"])) > 1
    assert "gold_reward" in docs["dpo"]["eval"] and "win_rate" in docs["dpo"]["eval"]
    assert all("gold_reward" in docs[n]["eval"] for n in ("online-dpo", "ppo"))
    board = run_cli("leaderboard", "--results", "results", "--out", "board", cwd=env)
    assert board.returncode == 0, board.stdout + board.stderr
    readme = (env / "board" / "README.md").read_text()
    assert board.returncode == 0 and f"with the judge `reward-model:{rm}` as its gold" in readme
