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
