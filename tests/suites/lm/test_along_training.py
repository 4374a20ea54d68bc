"""Evaluation along training (``--eval-at``) and the KL of every policy: evaluating at intermediate steps
leaves training exactly as it was, and each checkpoint is evaluated with the final evaluation's seeds."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from prefzoo.benchmarks.harness.results import load_results
from tests.helpers import run_cli
from tests.tiny_lm import make_tiny_lm


@pytest.mark.slow
def test_checkpoint_evaluations_do_not_perturb_training(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    tiny = make_tiny_lm(tmp_path / "model")
    args = ["bench", "--suite", "smol-sentiment", "--steps", "4", "--seeds", "1", "--algorithms", "dpo,online-dpo",
            "--model", str(tiny), "--train", "batch_size=4,micro_batch_size=4", "--results", str(tmp_path / "results"),
            "--runs", str(tmp_path / "runs"), "--plot", str(tmp_path / "p.png")]
    for extra in (["--eval-at", "4"], ["--eval-at", "1,2,4"]):  # the last step alone: no checkpoint (quick's 3 goes)
        out = run_cli(*args, *extra, cwd=tmp_path, timeout=900)
        assert out.returncode == 0, out.stdout + out.stderr
    docs = list(load_results(tmp_path / "results", "smol-sentiment"))
    for name in ("dpo", "online-dpo"):
        plain, along = sorted((d for d in docs if d["algorithm"] == name), key=lambda d: "eval_at" in d["settings"])
        assert "checkpoints" not in plain and along["settings"]["eval_at"] == [1, 2]  # step 4 is the final one
        assert [c["step"] for c in along["checkpoints"]] == [1, 2]
        # the same training: the same history, the same adapter, the same final evaluation
        assert along["train"]["history"] == plain["train"]["history"]
        a, b = (load_file(f"{d['adapter']}/adapter_model.safetensors") for d in (plain, along))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        for key in ("samples", "gold_reward", "sequence_kl", "kl_samples", "held_out_margins"):
            assert along["eval"].get(key) == plain["eval"].get(key), key
        # every checkpoint is sampled on the same prompts with the same seeds; training moves the policy
        first = along["checkpoints"][0]["eval"]
        assert first["samples"]["prompt_ids"] == along["eval"]["samples"]["prompt_ids"]
        assert first["kl_samples"]["log_ratios"] != along["eval"]["kl_samples"]["log_ratios"]
    reference = next(d for d in docs if d["algorithm"] == "reference")
    assert "sequence_kl" not in reference["eval"]  # π = π_ref: the table reads its KL as 0
    bad = run_cli(*args, "--eval-at", "5", cwd=tmp_path)
    assert bad.returncode == 2 and "--eval-at 5: the budget has steps 1 to 4" in bad.stdout


@pytest.mark.slow
def test_a_strength_sweep_with_checkpoints_feeds_the_matched_kl_table(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    tiny = make_tiny_lm(tmp_path / "model")
    out = run_cli("bench", "--suite", "smol-sentiment", "--steps", "2", "--seeds", "1", "--algorithms", "dpo",
                  "--model", str(tiny), "--train", "batch_size=4,micro_batch_size=4", "--strength-sweep", "3",
                  "--eval-at", "1", "--results", str(tmp_path / "results"), "--runs", str(tmp_path / "runs"),
                  "--plot", str(tmp_path / "p.png"), cwd=tmp_path, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    dpo = [d for d in load_results(tmp_path / "results", "smol-sentiment") if d["algorithm"] == "dpo"]
    assert sorted(d["config"]["beta"] for d in dpo) == pytest.approx([0.01, 0.1, 1.0])  # its declared range
    assert sorted(d.get("label", "dpo") for d in dpo) == ["dpo", "dpo [beta=0.01]", "dpo [beta=1]"]
    assert all(len(d["checkpoints"]) == 1 and "sequence_kl" in d["eval"] for d in dpo)
    board = run_cli("leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "board"),
                    cwd=tmp_path)
    assert board.returncode == 0, board.stdout + board.stderr
    text = (tmp_path / "board" / "README.md").read_text()
    assert board.returncode == 0 and "#### Gold at matched KL" in text and "KL(π‖π_ref) (nats) [95% CI]" in text
    assert list((tmp_path / "board").glob("*-frontiers.png"))
    refused = run_cli("bench", "--suite", "smol-sentiment", "--algorithms", "dpo", "--strength-sweep", "3",
                      "--tune", "2", "--model", str(tiny), "--results", str(tmp_path / "results"), cwd=tmp_path)
    assert refused.returncode == 2 and "--strength-sweep trains every strength; --tune selects one" in refused.stdout
