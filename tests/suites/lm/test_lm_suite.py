"""The LM harness end to end on a tiny random model (no download): every cell writes one result file,
a rerun skips finished cells, a SIGKILLed run loses only the cell in flight, and the leaderboard
renders from the files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from prefzoo.benchmarks.harness.results import load_results
from prefzoo.benchmarks.suites.smol_sentiment.data import DataSettings, bradley_terry_labels, gold_reward, make_prompts
from tests.helpers import PREFZOO, run_cli
from tests.tiny_lm import pairs

ARGS = ["bench", "--suite", "smol-sentiment", "--steps", "2", "--seeds", "1"]


def test_prompts_are_disjoint_and_fixed():
    train, held_out = make_prompts(DataSettings())
    assert len(train) == 300 and len(held_out) == 64
    texts = [p[-1]["content"] for p in train + held_out]
    assert len(set(texts)) == len(texts)
    assert make_prompts(DataSettings())[0] == train and make_prompts(DataSettings(seed=1))[0] != train


def test_gold_reward_is_vader_compound_with_a_length_term():
    r = gold_reward(["I loved it, great food!", "terrible and slow", "a place"], length_weight=0.0)
    assert r[0] > 0.8 and r[1] < -0.4 and r[2] == 0.0
    assert gold_reward(["a place with words"], length_weight=1.0).item() == pytest.approx(-0.4)


def test_bradley_terry_labels_follow_the_temperature():
    import torch

    n = 20_000
    r1, r2 = torch.full((n,), 0.3, dtype=torch.float64), torch.full((n,), 0.1, dtype=torch.float64)
    for temperature in (0.1, 0.5):
        rate = bradley_terry_labels(r1, r2, temperature, seed=0).double().mean().item()
        assert rate == pytest.approx(torch.sigmoid(torch.tensor(0.2 / temperature)).item(), abs=0.01)


@pytest.mark.slow
def test_suite_runs_every_cell_once_and_resumes(tiny, env):
    results = env / "results"
    out = run_cli(*ARGS, "--algorithms", "dpo,simpo", "--model", str(tiny), "--results", str(results),
                  "--plot", str(env / "p.png"), cwd=env, timeout=600)  # the data of a fresh cache, then 3 cells
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Δ gold vs reference" in out.stdout and "tokens/s" not in out.stdout  # the headline columns only
    docs = {d["algorithm"]: d for d in load_results(results, "smol-sentiment")}
    assert set(docs) == {"reference", "dpo", "simpo"}
    dpo = docs["dpo"]
    assert len(dpo["train"]["history"]) == 2 and dpo["train"]["tokens_per_s"] > 0
    for metric in ("gold_reward", "win_rate", "kl", "pair_accuracy"):
        m = dpo["eval"][metric]
        assert m["ci_low"] <= m["mean"] <= m["ci_high"], metric
    assert docs["reference"]["eval"].get("kl") is None
    assert (env / "runs" / "smol-sentiment" / "dpo").exists()

    simpo_file = next((results / "smol-sentiment" / "simpo").glob("*.json"))
    simpo_file.unlink()
    before = {p: p.stat().st_mtime_ns for p in results.glob("smol-sentiment/*/*.json")}
    again = run_cli(*ARGS, "--algorithms", "dpo,simpo", "--model", str(tiny), "--results", str(results),
                    "--plot", str(env / "p.png"), cwd=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("done already") == 2
    assert {p: p.stat().st_mtime_ns for p in before} == before  # finished cells untouched
    assert simpo_file.exists()

    board = run_cli("leaderboard", "--results", str(results), "--out", str(env / "board"), cwd=env)
    assert board.returncode == 0, board.stderr
    assert "result files of 1 suites" in board.stdout and "smol-sentiment: tables" in board.stdout  # progress
    readme = (env / "board" / "README.md").read_text()
    assert "## smol-sentiment" in readme and "| reference | reference |" in readme


@pytest.mark.slow
def test_sigkill_loses_only_the_cell_in_flight(tiny, env):
    results = env / "results"
    proc = subprocess.Popen([str(PREFZOO), *ARGS, "--algorithms", "dpo,ipo", "--model", str(tiny), "--results",
                             str(results), "--plot", str(env / "p.png")], cwd=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ))
    deadline = time.time() + 240
    while time.time() < deadline and not list(results.glob("smol-sentiment/reference/*.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = list(results.glob("smol-sentiment/*/*.json"))
    assert finished, "the reference cell should have finished before the kill"
    for path in finished:
        json.loads(path.read_text())  # whole files only
    assert len(list(load_results(results))) == len(finished)  # a temporary left by the kill is not a result
    stamps = {p: p.stat().st_mtime_ns for p in finished}
    out = run_cli(*ARGS, "--algorithms", "dpo,ipo", "--model", str(tiny), "--results", str(results),
                  "--plot", str(env / "p.png"), cwd=env)
    assert out.returncode == 0, out.stderr
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert {d["algorithm"] for d in load_results(results, "smol-sentiment")} == {"reference", "dpo", "ipo"}


@pytest.mark.slow
def test_a_trl_format_file_without_gold_is_ranked_by_pair_accuracy(tiny, env):
    rows = pairs(30)
    data = env / "prefs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    results = env / "results"
    out = run_cli("bench", "--suite", "preference-dataset", "--dataset", str(data), "--algorithms", "dpo,ipo",
                  "--steps", "2", "--model", str(tiny), "--results", str(results), "--plot", str(env / "p.png"),
                  cwd=env)
    assert out.returncode == 0, out.stdout + out.stderr
    docs = {d["algorithm"]: d for d in load_results(results, "preference-dataset")}
    assert set(docs) == {"reference", "dpo", "ipo"}
    assert docs["dpo"]["has_gold"] is False and "gold_reward" not in docs["dpo"]["eval"]
    assert docs["dpo"]["eval"]["pair_accuracy"]["n"] == 3  # 10% of 30 rows held out
    board = run_cli("leaderboard", "--results", str(results), "--out", str(env / "board"), cwd=env)
    assert board.returncode == 0, board.stdout + board.stderr
    readme = (env / "board" / "README.md").read_text()
    assert board.returncode == 0 and "ranking uses held-out pair accuracy" in readme
    section = readme.split("\n## preference-dataset\n")[1]  # the full table (the headline above repeats it)
    ranked = [line.split(" | ")[1] for line in section.splitlines() if line.startswith("| ") and " | pairwise | " in line]
    accuracy = {name: docs[name]["eval"]["pair_accuracy"]["mean"] for name in ("dpo", "ipo")}
    assert ranked == sorted(accuracy, key=lambda n: -accuracy[n])


@pytest.mark.slow
def test_an_unpaired_trl_file_trains_kto_and_is_refused_for_a_pairs_only_algorithm(tiny, env):
    rows = []
    for i, r in enumerate(pairs(30)):
        rows += [{"prompt": r["prompt"], "completion": r["chosen"], "label": True},
                 {"prompt": r["prompt"], "completion": r["rejected"] + f" {i}", "label": False}]
    data = env / "unpaired.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    results = env / "results"
    refused = run_cli("bench", "--suite", "preference-dataset", "--dataset", str(data), "--algorithms", "kto,dpo",
                      "--steps", "1", "--model", str(tiny), "--results", str(results), cwd=env)
    assert refused.returncode == 2 and not results.exists()
    assert "'dpo' needs preference pairs (prompt, chosen, rejected); unpaired holds unpaired rows" in refused.stdout
    out = run_cli("bench", "--suite", "preference-dataset", "--dataset", str(data), "--algorithms", "kto",
                  "--steps", "2", "--model", str(tiny), "--results", str(results), "--plot", str(env / "p.png"),
                  cwd=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "data: 50 train rows, 25 held-out pairs" in out.stdout  # one of 6 prompts held out: its 5 × 5 pairs
    kto = next(d for d in load_results(results, "preference-dataset") if d["algorithm"] == "kto")
    assert kto["eval"]["pair_accuracy"]["n"] == 25 and kto["train"]["dataset_pairs"] == 0
    assert kto["train"]["oracle_queries"] == kto["train"]["responses_sampled"] > 0


def test_a_bad_dataset_file_is_refused_naming_row_and_field(tiny, env):
    rows = pairs(12)
    rows[7]["chosen"] = ""
    data = env / "bad.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = run_cli("bench", "--suite", "preference-dataset", "--dataset", str(data), "--algorithms", "dpo",
                  "--steps", "1", "--model", str(tiny), "--results", str(env / "results"), cwd=env)
    assert out.returncode == 2
    assert "field 'chosen': empty text" in out.stdout and not (env / "results").exists()


@pytest.mark.slow
def test_the_train_option_sets_the_shared_budget_and_is_refused_where_it_does_not_apply(tiny, env):
    results = env / "results"
    out = run_cli("bench", "--suite", "smol-sentiment", "--seeds", "1", "--algorithms", "dpo", "--model", str(tiny),
                  "--train", "learning_rate=1e-3,steps=3,warmup_steps=1", "--results", str(results),
                  "--plot", str(env / "p.png"), cwd=env)
    assert out.returncode == 0, out.stdout + out.stderr
    docs = {d["algorithm"]: d for d in load_results(results, "smol-sentiment")}
    train = docs["dpo"]["settings"]["train"]
    assert (train["learning_rate"], train["steps"], train["warmup_steps"]) == (1e-3, 3, 1)
    assert len(docs["dpo"]["train"]["history"]) == 3
    bad = run_cli("bench", "--suite", "smol-sentiment", "--algorithms", "dpo", "--model", str(tiny),
                  "--train", "learning_rat=1e-3", "--results", str(results), cwd=env)
    assert bad.returncode == 2 and "did you mean 'learning_rate'" in bad.stdout
    bandit = run_cli("bench", "--suite", "bandit", "--train", "steps=3", cwd=env)
    assert bandit.returncode == 2 and "suite 'bandit' does not take --train" in bandit.stdout


def test_suite_options_are_checked_against_the_suite(tiny, env):
    out = run_cli("bench", "--suite", "preference-dataset", "--algorithms", "dpo", cwd=env)
    assert out.returncode == 2 and "suite 'preference-dataset' needs --dataset" in out.stdout
    out = run_cli("bench", "--suite", "bandit", "--profile", "quick", cwd=env)
    assert out.returncode == 2 and "suite 'bandit' does not take --profile" in out.stdout


def test_every_profile_fits_the_prompt_pool():
    from prefzoo.benchmarks.suites.lm.suite import PROFILES

    for name, profile in PROFILES.items():
        train, held_out = make_prompts(profile.data)
        assert len(train) == profile.data.train_prompts and len(held_out) == profile.data.eval_prompts, name


def test_data_key_covers_the_prompt_pool(monkeypatch):
    import prefzoo.benchmarks.suites.smol_sentiment.data as smol

    before = smol.data_key("model", DataSettings())
    monkeypatch.setattr(smol, "TEMPLATES", smol.TEMPLATES + ("Rate {q} {s}.",))
    assert smol.data_key("model", DataSettings()) != before


def test_the_quick_profile_pairs_ship_under_its_data_key_with_their_gold_rewards(env):
    """The shipped pairs are what the quick profile's settings generate: its prompts, VADER rewards that
    recompute exactly, and labels consistent with them on held-out rows. Editing the prompt pool or the
    settings changes the key, and this test then asks for the file to be regenerated."""
    import torch

    from prefzoo.algorithms.engine.models import model_fingerprint
    from prefzoo.benchmarks.suites.smol_sentiment.source import GeneratedSentiment
    from prefzoo.benchmarks.suites.lm.suite import PROFILES

    profile = PROFILES["quick"]
    fingerprint = model_fingerprint(profile.model)
    key = GeneratedSentiment(profile.data).key(fingerprint)
    assert key.endswith("+shipped"), "regenerate benchmarks/suites/smol_sentiment/shipped for the quick profile's new data key"
    assert GeneratedSentiment(profile.data, regenerate=True).key(fingerprint) == key.removesuffix("+shipped")
    data = GeneratedSentiment(profile.data).load(None, None, key)
    train_prompts, eval_prompts = make_prompts(profile.data)
    assert data.eval_prompts == eval_prompts
    shipped = {json.dumps(r["prompt"], sort_keys=True) for r in data.train}
    assert shipped <= {json.dumps(p, sort_keys=True) for p in train_prompts}
    assert len(data.train) > 0.8 * profile.data.train_prompts  # few prompts drop out as ties
    for rows in (data.train, data.eval):
        chosen = gold_reward([r["chosen"][0]["content"] for r in rows])
        rejected = gold_reward([r["rejected"][0]["content"] for r in rows])
        assert torch.equal(chosen, torch.tensor([r["gold_chosen"] for r in rows], dtype=torch.float64))
        assert torch.equal(rejected, torch.tensor([r["gold_rejected"] for r in rows], dtype=torch.float64))
        assert all(r["gold_chosen"] != r["gold_rejected"] for r in rows)  # gold ties never make a pair
    assert all(r["gold_chosen"] > r["gold_rejected"] for r in data.eval)  # held-out: labelled by gold
    noisy = sum(r["gold_chosen"] < r["gold_rejected"] for r in data.train)
    assert 0 < noisy < len(data.train) / 4  # Bradley–Terry labels at T = 0.1 on best-vs-worst margins


def test_a_prompts_pair_is_its_best_and_worst_sample_and_ties_are_dropped():
    import torch

    from prefzoo.benchmarks.suites.smol_sentiment.data import best_and_worst

    assert best_and_worst(torch.tensor([0.1, -0.5, 0.7, 0.0])) == (2, 1)
    assert best_and_worst(torch.tensor([0.3, 0.3, 0.3, 0.3])) is None
    assert best_and_worst(torch.tensor([0.0, 0.4, 0.4, 0.0])) == (1, 0)  # the first of equals


def test_regenerate_data_is_an_option_of_the_generated_suite_only(env):
    out = run_cli("bench", "--suite", "bandit", "--regenerate-data", cwd=env)
    assert out.returncode == 2 and "suite 'bandit' does not take --regenerate-data" in out.stdout


@pytest.mark.slow
def test_online_reward_and_rl_families_run_as_cells_and_reach_the_leaderboard(tiny, env):
    results = env / "results"
    out = run_cli(*ARGS, "--algorithms", "xpo,ids,ppo,grpo", "--model", str(tiny), "--results", str(results),
                  "--plot", str(env / "p.png"), cwd=env, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    docs = {d["algorithm"]: d for d in load_results(results, "smol-sentiment")}
    assert set(docs) == {"reference", "xpo", "ids", "ppo", "grpo"}
    # ppo trains the seed's bt reward model and keeps it; grpo, on the same pairs and seed, is scored by it
    assert docs["ppo"]["train"]["reward_model_reused"] is False and docs["grpo"]["train"]["reward_model_reused"]
    assert docs["grpo"]["train"]["reward_model_wall_time_s"] == docs["ppo"]["train"]["reward_model_wall_time_s"]
    assert "bt reward model read from" in out.stdout
    xpo, ids, ppo = docs["xpo"], docs["ids"], docs["ppo"]
    assert xpo["train"]["oracle_queries"] == 2 * 8 and xpo["train"]["dataset_pairs"] == 16
    assert 0 <= ids["eval"]["reward"]["pair_accuracy"] <= 1 and ids["train"]["epochs"] == 3
    # and on prompts of templates and subjects no train prompt uses, the same diagnostics
    assert 0 <= ids["eval"]["reward_ood"]["pair_accuracy"] <= 1 and "ece" in ids["eval"]["reward_ood"]
    assert ppo["label"] == "ppo (bt)" and len(ppo["train"]["curve"]) == 2
    assert "pair_accuracy" not in ppo["eval"] and ppo["eval"]["kl"]["mean"] is not None
    board = run_cli("leaderboard", "--results", str(results), "--out", str(env / "board"), cwd=env)
    assert board.returncode == 0, board.stderr
    readme = (env / "board" / "README.md").read_text()
    assert "| ppo (bt) | rl-with-reward |" in readme and "### Reward models" in readme
    assert "out-of-distribution pair accuracy (gold)" in readme
    assert list((env / "board").glob("smol-sentiment-*-overoptimisation.png"))


def test_the_smoke_profile_is_the_quick_one_cut_short():
    from prefzoo.benchmarks.suites.lm.suite import PROFILES

    quick, smoke = PROFILES["quick"], PROFILES["smoke"]
    assert smoke.data == quick.data and smoke.train.learning_rate == quick.train.learning_rate
    assert (smoke.train.steps, smoke.seeds, quick.seeds) == (4, 1, 3)


@pytest.mark.slow
def test_seed_sets_the_first_seed_of_the_cells(tiny, env):
    results = env / "results"
    out = run_cli("bench", "--suite", "smol-sentiment", "--seed", "2", "--seeds", "1", "--steps", "1",
                  "--algorithms", "dpo", "--model", str(tiny), "--results", str(results), "--plot", str(env / "p.png"),
                  cwd=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert {(d["algorithm"], d["seed"]) for d in load_results(results, "smol-sentiment")} == {("reference", 2), ("dpo", 2)}
