"""Helpers shared by the tests: temporary plugin distributions and the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFZOO = Path(sys.executable).parent / "prefzoo"


def make_plugin(site: Path, dist: str, module: str, source: str, entry_points: dict[str, str],
                group: str = "prefzoo.algorithms") -> Path:
    """A third-party package on ``site``: its module plus a ``.dist-info`` declaring entry points in
    ``group``, as pip would install it."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}\n")
    return site


def run_cli(*args: str, site: Path | None = None, timeout: int = 300, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return subprocess.run([str(PREFZOO), *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)


def interval(mean: float, half: float = 0.0, n: int = 64) -> dict:
    """A metric of a result document: its mean and 95% interval over ``n`` values."""
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def lm_result(**fields) -> dict:
    """The JSON of an LM suite's result document with made-up ``fields``; every field a test does not
    name gets a placeholder, so that it reads as an ``LMResult``."""
    from prefzoo.benchmarks.suites.lm.profiles import PROFILES

    doc = {"suite": "smol-sentiment", "dataset": fields.get("suite", "smol-sentiment"), "has_gold": True,
           "algorithm": "dpo", "family": "pairwise", "paper": "", "origin": "", "seed": 0, "config": {},
           "profile": "quick", "settings": PROFILES["quick"].to_dict(), "data_key": "k", "engine_revision": 2,
           "prefzoo_version": "0.1.0", "train": None, "eval": {}, **fields}
    doc.setdefault("hash", doc.get("label") or doc["algorithm"])
    if doc["train"] is not None:
        doc["train"] = {"wall_time_s": 1.0, "tokens": 0, "tokens_per_s": 0.0, "peak_memory_bytes": 0, "history": [],
                        **doc["train"]}
    return doc


def lm_results(*docs: dict):
    """``docs`` (``lm_result`` JSON) as the typed documents the reports read."""
    from prefzoo.benchmarks.suites.lm.documents import LMResult

    return [LMResult.parse(doc) for doc in docs]
