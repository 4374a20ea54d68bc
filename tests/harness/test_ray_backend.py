"""``--backend ray``: the benchmark's cells as Ray tasks on a local instance with 2 CPU workers give the
same result documents as a serial run (timings aside), only the driver writes, and a worker killed
mid-run loses only its cell, which a rerun computes."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import torch

from prefzoo.benchmarks.harness.backends import Backend, Cell, CellsFailed
from prefzoo.benchmarks.suites.bandit.suite import BanditSuite
from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite
from prefzoo.registry import ALGORITHMS
from tests.helpers import run_cli
from tests.tiny_lm import make_tiny_lm

ray = pytest.importorskip("ray")  # the test extra installs it; a bare install runs serially
RAY = Backend("ray")
TIMING = ("wall_time", "tokens_per_s", "peak_memory")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # its cell functions travel by value
    yield
    ray.shutdown()


def _without_timings(doc):
    if isinstance(doc, dict):
        return {k: _without_timings(v) for k, v in doc.items() if not any(t in k for t in TIMING)}
    if isinstance(doc, list):
        return [_without_timings(v) for v in doc]
    return doc


def _files(root: Path) -> dict[str, dict]:
    return {str(p.relative_to(root)): _without_timings(json.loads(p.read_text())) for p in root.rglob("*.json")}


@pytest.mark.slow
def test_bandit_cells_on_ray_equal_the_serial_run(local_ray, tmp_path):
    pairwise = [ALGORITHMS.get(n) for n in ("dpo", "ipo", "beta-dpo")]  # β-DPO draws random numbers
    others = [ALGORITHMS.get(n) for n in ("online-dpo", "rloo", "ids")]
    for root, backend in ((tmp_path / "serial", Backend()), (tmp_path / "ray", RAY)):
        BanditSuite().run(pairwise, root, seeds=2, steps=300, backend=backend)
        BanditSuite().run(others, root, seeds=2, backend=backend)
    serial, on_ray = _files(tmp_path / "serial"), _files(tmp_path / "ray")
    assert {name.split("/")[1] for name in serial} == {"dpo", "ipo", "beta-dpo", "online-dpo", "rloo", "ids"}
    assert serial == on_ray


@pytest.mark.parametrize("backend", ["serial", "ray"])
def test_a_failed_cell_is_reported_and_the_others_are_written(backend, request, tmp_path):
    if backend == "ray":
        request.getfixturevalue("local_ray")
    cells = [Cell("good", _write_one, (tmp_path / "a.json",)), Cell("bad", _fail, ()),
             Cell("good too", _write_one, (tmp_path / "b.json",))]
    lines = []
    with pytest.raises(CellsFailed, match="bad: ValueError: no such arm") as failed:
        Backend(backend).run(cells, log=lines.append)
    assert failed.value.failures == [("bad", "ValueError: no such arm")] and lines == ["bad: failed — ValueError: no such arm"]
    assert (tmp_path / "a.json").exists() and (tmp_path / "b.json").exists()


def _write_one(path: Path):
    return [(path, {"ok": True})]


def _fail():
    raise ValueError("no such arm")


@pytest.mark.slow
def test_lm_cells_on_ray_equal_serial_and_a_killed_worker_is_recovered(local_ray, tmp_path, monkeypatch):
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    model = make_tiny_lm(tmp_path / "model")
    algorithms = [ALGORITHMS.get(n) for n in ("dpo", "ipo")]
    common = dict(seeds=1, steps=2, model=str(model), profile="quick", runs=tmp_path / "runs")  # adapters: one place
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a Ray task with one CPU: float sums are then the same to the last bit
    try:
        SmolSentimentSuite().run(algorithms, tmp_path / "serial", **common)
    finally:
        torch.set_num_threads(threads)
    killed = []

    def kill_ipo_cell():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not killed:
            for p in psutil.process_iter(["cmdline"]):
                if (p.info["cmdline"] or [""])[0].startswith("ray::ipo seed 0"):
                    p.kill()
                    killed.append(p.pid)
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_ipo_cell)
    watcher.start()
    ray_root = tmp_path / "ray"
    with pytest.raises(CellsFailed) as failed:
        SmolSentimentSuite().run(algorithms, ray_root, backend=RAY, **common)
    watcher.join()
    assert killed and [label for label, _ in failed.value.failures] == ["ipo seed 0"]
    assert not list(ray_root.rglob("*.tmp*")) and not list(ray_root.rglob("ipo/*"))  # nothing half-written
    assert sorted(p.parent.name for p in ray_root.rglob("*.json")) == ["dpo", "reference"]
    lines = []
    SmolSentimentSuite().run(algorithms, ray_root, backend=RAY, log=lines.append, **common)
    assert sum("done already" in line for line in lines) == 2  # the rerun computed the lost cell only
    assert _files(tmp_path / "serial") == _files(ray_root)


def test_backend_options_are_checked(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="add --backend ray"):
        Backend(gpus_per_cell=1)
    with pytest.raises(ValueError, match="backends are serial, ray"):
        Backend("dask")
    out = run_cli("bench", "--suite", "bandit", "--algorithms", "dpo", "--address", "auto", "--results",
                  str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2 and "add --backend ray" in out.stdout
    monkeypatch.setitem(sys.modules, "ray", None)  # as without the extra
    with pytest.raises(ValueError, match=r"pip install 'prefzoo\[ray\]'"):
        RAY.run([Cell("x", _fail, ())])
