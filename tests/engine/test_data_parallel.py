"""Data-parallel cells: ``prefzoo.cli bench`` on two CPU processes (torchrun, as ``accelerate launch`` starts
them on GPUs) on a tiny model trains a cell of every family on both processes (the same global batch,
the same warm-up; the online and RL rounds sampled across them and labelled once), samples the
evaluation split across them, and the main process alone writes — the same result files, and the same
numbers, as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from prefzoo.algorithms.engine.processes import data_parallel_refusal, process_share
from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite
from prefzoo.registry import ALGORITHMS
from tests.harness.test_ray_backend import _files
from tests.tiny_lm import make_tiny_lm

TRAIN = ["micro_batch_size=4", "warmup_steps=2"]  # the quick profile's batch of 8: 2 micro-batches, one per
# process; a warm-up longer than one step, which a scheduler stepped once per process would cut short


def _launch(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Two CPU processes, as torchrun starts them on GPUs for ``accelerate launch --multi_gpu`` (``accelerate
    launch --cpu --num_processes 2`` runs a single process unless mpirun is given a host file)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "prefzoo.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=dict(env, ACCELERATE_USE_CPU="1"), timeout=900)


ALGORITHMS_RUN = ["dpo", "bt", "online-dpo", "ppo"]  # one of each family; PPO with its critic and whitening


def _adapters_agree(a: dict, b: dict) -> None:
    weights = [load_file(Path(doc["adapter"]) / "adapter_model.safetensors") for doc in (a, b)]
    assert weights[0].keys() == weights[1].keys()
    for name, value in weights[0].items():  # the same update: gradients averaged over the two processes
        torch.testing.assert_close(weights[1][name], value, rtol=1e-4, atol=1e-7)
    assert max(v.abs().max().item() for n, v in weights[0].items() if "lora_B" in n) > 1e-5  # it trained


@pytest.mark.slow
def test_a_cell_on_two_processes_writes_what_one_process_writes(tmp_path, monkeypatch):
    from prefzoo.algorithms.engine import online, rl

    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))  # the data: generated once, read by both runs
    model = make_tiny_lm(tmp_path / "model")
    common = dict(seeds=1, steps=2, model=str(model), profile="quick", train=TRAIN)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each launched process: float sums then agree to rounding
    for module in (online, rl):  # one process sampling a round in the two batches two processes split it into
        monkeypatch.setattr(module, "split_batch_size", lambda batch_size, jobs: -(-jobs // 2))
    try:
        SmolSentimentSuite().run([ALGORITHMS.get(name) for name in ALGORITHMS_RUN], tmp_path / "one",
                                 runs=tmp_path / "runs-one", log=lambda _: None, **common)
    finally:
        torch.set_num_threads(threads)
    env = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="200")
    out = _launch(["bench", "--suite", "smol-sentiment", "--algorithms", ",".join(ALGORITHMS_RUN), "--seeds", "1",
                   "--steps", "2",
                   "--model", str(model), "--profile", "quick", "--train", ",".join(TRAIN),
                   "--results", str(tmp_path / "two"), "--runs", str(tmp_path / "runs-two"),
                   "--plot", str(tmp_path / "two.png")], env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "data-parallel cells over 2 processes" in out.stdout
    assert out.stdout.count("result files under") == 1  # one process reports
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert sorted(one) == sorted(two) and len(one) == 5  # the reference's cell and one per algorithm, same names
    assert not list((tmp_path / "two").rglob("*.tmp*"))
    reference = next(name for name in one if "/reference/" in name)
    for part in ("eval", "train"):  # the split sampling gathers the very samples one process draws
        assert one[reference][part] == two[reference][part]
    dpo = next(name for name in one if "/dpo/" in name)
    a, b = one[dpo], two[dpo]
    assert a.keys() == b.keys() and a["eval"].keys() == b["eval"].keys()
    losses = [[h["loss"] for h in doc["train"]["history"]] for doc in (a, b)]
    assert len(losses[0]) == 2 and losses[0] == pytest.approx(losses[1], rel=1e-4)  # one global batch a step
    assert a["train"]["tokens"] == b["train"]["tokens"]  # both processes' tokens counted
    assert a["eval"]["samples"]["prompt_ids"] == b["eval"]["samples"]["prompt_ids"]
    assert a["eval"]["samples"]["texts"] == b["eval"]["samples"]["texts"]
    _adapters_agree(a, b)
    a, b = (doc for name, doc in sorted(one.items()) + sorted(two.items()) if "/bt/" in name)
    losses = [[h["loss"] for h in doc["train"]["history"]] for doc in (a, b)]
    # 16 pairs read, 3 epochs of 2 steps of 8 — after dpo's cell in the same process, whose loader must not
    # leave accelerate syncing every micro-batch (12 steps of 4)
    assert len(losses[0]) == 6 and losses[0] == pytest.approx(losses[1], rel=1e-4)
    assert a["train"]["tokens"] == b["train"]["tokens"]
    assert a["eval"]["reward"]["pair_accuracy"] == b["eval"]["reward"]["pair_accuracy"]
    heads = [json.loads((Path(doc["reward_model"]) / "reward_head.json").read_text()) for doc in (a, b)]
    assert heads[1]["weight"] == pytest.approx(heads[0]["weight"], rel=1e-4, abs=1e-7)
    assert heads[0]["weight"] != pytest.approx([0.0] * len(heads[0]["weight"]), abs=1e-6)  # it trained
    for name in ("online-dpo", "ppo"):  # each round sampled across the processes, labelled once, shared out
        a, b = (doc for path, doc in sorted(one.items()) + sorted(two.items()) if f"/{name}/" in path)
        losses = [[h["loss"] for h in doc["train"]["history"]] for doc in (a, b)]
        assert len(losses[0]) >= 2 and losses[0] == pytest.approx(losses[1], rel=1e-4), name
        for key in ("tokens", "generated_tokens", "responses_sampled", "oracle_queries"):
            assert a["train"][key] == b["train"][key], (name, key)
        assert a["eval"]["samples"]["texts"] == b["eval"]["samples"]["texts"], name
        _adapters_agree(a, b)
    curves = [doc["train"]["curve"] for path, doc in sorted(one.items()) + sorted(two.items()) if "/ppo/" in path]
    assert len(curves[0]) == len(curves[1]) == 2  # per iteration: the whole rollout's scores and KL
    for x, y in zip(*curves):
        assert x == pytest.approx(y, rel=1e-4, abs=1e-6)


def test_options_that_stay_single_process_are_refused(monkeypatch):
    from prefzoo.algorithms.engine import processes

    assert data_parallel_refusal(True, "ray") is None  # one process takes everything
    monkeypatch.setattr(processes, "processes", lambda: 2)
    assert "--tune" in data_parallel_refusal(True, "serial")
    assert "--backend ray" in data_parallel_refusal(False, "ray")
    assert data_parallel_refusal(False, "serial") is None


def test_a_step_is_shared_out_in_consecutive_equal_parts():
    rows = list(range(8))
    assert [process_share(rows, r, 2) for r in range(2)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert process_share(rows, 0, 1) == rows
    with pytest.raises(ValueError, match="6 rows a step cannot be split evenly over 4 processes"):
        process_share(rows[:6], 0, 4)
