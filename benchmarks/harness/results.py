"""Result files: one JSON document per (suite, algorithm, seed, config hash), written atomically.

The layout is ``<root>/<suite>/<algorithm>/seed<seed>-<hash>.json``. ``hash`` covers the algorithm's
config and the suite's settings, so a changed budget never overwrites, or is mistaken for, an old run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

PROJECT_FILE = "prefzoo.toml"


def project_root(start: Path | None = None) -> Path:
    """The folder of the nearest ``prefzoo.toml`` at or above ``start`` (the working directory), else
    ``start`` itself: where a project's results, adapters and leaderboard go by default — never the
    installed package."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return start


def project_paths(start: Path | None = None) -> dict[str, Path]:
    """``results``, ``runs`` and ``leaderboard`` folders of the project: ``results/``, ``runs/`` and
    ``leaderboard/`` under its root, or what its ``prefzoo.toml`` says (paths relative to the file),
    e.g. ``[paths]`` / ``results = "leaderboard/results"``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    root = project_root(start)
    paths = {"results": root / "results", "runs": root / "runs", "leaderboard": root / "leaderboard"}
    config = root / PROJECT_FILE
    if config.is_file():
        try:
            table = tomllib.loads(config.read_text()).get("paths", {})
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{config}: not valid TOML ({exc})") from None
        for key, value in table.items():
            if key not in paths:
                raise ValueError(f"{config}: [paths] has no setting {key!r}; settings: {', '.join(paths)}")
            paths[key] = root / value
    return paths


def run_hash(config: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """Eight hex digits identifying a config under a suite's settings."""
    payload = json.dumps({"config": config, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def result_path(root: Path, suite: str, algorithm: str, seed: int, digest: str) -> Path:
    return Path(root) / suite / algorithm / f"seed{seed}-{digest}.json"


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so a
    reader (or a killed run) sees either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, document: Mapping[str, Any]) -> None:
    write_text_atomic(path, json.dumps(document, indent=1, sort_keys=True) + "\n")


def save_figure_atomic(fig, path: Path, dpi: int = 100) -> Path:
    """Save a matplotlib figure through a temporary file and a rename, then close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(path)
    return path


def result_files(root: Path, suite: str | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(path, JSON) of every result file under ``root`` (of one ``suite`` if given), in a stable order,
    as written: a suite's ``Suite.read`` makes them typed documents of the current schema."""
    base = Path(root) / suite if suite else Path(root)
    for path in sorted(base.glob("**/seed*-*.json")):
        with open(path) as f:
            try:
                yield path, json.load(f)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: not a valid result file ({exc})") from None


def load_results(root: Path, suite: str | None = None) -> Iterator[dict[str, Any]]:
    """The JSON of every result file under ``root`` (of one ``suite`` if given), in a stable order."""
    for _, raw in result_files(root, suite):
        yield raw
