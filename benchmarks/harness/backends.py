"""Where a benchmark's cells run: one after another in this process (``serial``, the default), or as Ray
tasks on this machine or on an existing Ray cluster (``ray``, ``pip install 'prefzoo[ray]'``).

A suite turns its work into ``Cell``s — a module-level function and its (picklable) arguments that
*return* result documents with their paths — and hands them to ``Backend.run`` in waves (a wave's cells
are independent; a later wave may read what an earlier one wrote, e.g. the reference cells' samples).
Only the driver writes result files, each atomically, as its cell finishes: a killed driver or a lost
worker loses only the cells in flight, and a rerun skips finished cells exactly as a serial run does.

Ray is used as it comes — task scheduling with resource requests, ``ray.wait`` for results as they
finish, worker processes reused between tasks (which lets an LM worker keep its loaded model, see
``suites/lm/cells.py``) — nothing of its own is rebuilt here.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefzoo.benchmarks.harness.results import write_json_atomic

BACKENDS = ("serial", "ray")

Written = list[tuple[Path, dict[str, Any]]]
"""What a cell returns: (result path, document) pairs for the driver to write."""


@dataclass(frozen=True)
class Cell:
    """One unit of work: ``fn(*args)`` → ``Written``. ``label`` names it in progress and error lines;
    ``gpu`` says whether it wants a GPU (an LM cell) or not (a bandit cell)."""

    label: str
    fn: Callable[..., Written]
    args: tuple
    gpu: bool = False


class CellsFailed(RuntimeError):
    """Some cells of a run failed; the others' results are written. ``failures``: (label, error)."""

    def __init__(self, failures: list[tuple[str, str]]):
        self.failures = failures
        super().__init__(f"{len(failures)} cell(s) failed (the others' results are written; a rerun retries "
                         "only the missing cells): " + "; ".join(f"{label}: {error}" for label, error in failures))


@dataclass(frozen=True)
class Backend:
    """``name``: serial or ray. ``address``: a Ray cluster to join (``auto``, ``HOST:PORT``, ``ray://...``);
    None starts a local Ray instance (or uses the one this process already started). ``gpus_per_cell``:
    the GPUs a Ray task of an LM cell asks for (None: 1 where the cluster has GPUs, else 0);
    ``cpus_per_cell``: the CPUs every Ray task asks for (Ray sets a task's thread count to it)."""

    name: str = "serial"
    address: str | None = None
    gpus_per_cell: float | None = None
    cpus_per_cell: float = 1.0

    def __post_init__(self):
        if self.name not in BACKENDS:
            raise ValueError(f"--backend {self.name!r}: backends are {', '.join(BACKENDS)}")
        if self.name == "serial" and (self.address or self.gpus_per_cell is not None or self.cpus_per_cell != 1.0):
            raise ValueError("--address, --gpus-per-cell and --cpus-per-cell choose where Ray runs the cells: "
                             "add --backend ray")
        if self.gpus_per_cell is not None and self.gpus_per_cell < 0:
            raise ValueError(f"--gpus-per-cell {self.gpus_per_cell}: must be ≥ 0")
        if self.cpus_per_cell <= 0:
            raise ValueError(f"--cpus-per-cell {self.cpus_per_cell}: must be > 0")

    def run(self, cells: Sequence[Cell], progress: Callable[[int, int], None] | None = None,
            log: Callable[[str], None] = print, done: int = 0, total: int | None = None) -> list[dict[str, Any]]:
        """Run ``cells``, write every document they return, and return the documents in cell order.
        ``done``/``total`` place this wave in the whole run's progress."""
        total = total if total is not None else done + len(cells)
        if not cells:  # nothing to do: no Ray instance to start
            return []
        if self.name == "serial":
            docs, failures = [], []
            for i, cell in enumerate(cells):
                try:
                    docs += _write(cell.fn(*cell.args))
                except Exception as exc:  # the cell's own error (a judge that fails mid-run): the others go on
                    failures.append((cell.label, _short(exc)))
                    log(f"{cell.label}: failed — {failures[-1][1]}")
                if progress is not None:
                    progress(done + i + 1, total)
            if failures:
                raise CellsFailed(failures)
            return docs
        return self._run_ray(cells, progress, log, done, total)

    def _run_ray(self, cells, progress, log, done, total) -> list[dict[str, Any]]:
        ray = _import_ray()
        self.connect()
        gpus = self.gpus_per_cell
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        remote = ray.remote(max_retries=0)(_call)  # a failed cell is reported, not silently rerun
        pending = {remote.options(num_cpus=self.cpus_per_cell, num_gpus=gpus if cell.gpu else 0,
                                  name=cell.label).remote(cell.fn, *cell.args): i for i, cell in enumerate(cells)}
        results: dict[int, list[dict[str, Any]]] = {}
        failures = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            try:
                results[i] = _write(ray.get(ready[0]))
            except Exception as exc:  # a lost worker, or the cell's own error: the other cells go on
                failures.append((cells[i].label, _short(exc)))
                log(f"{cells[i].label}: failed — {failures[-1][1]}")
            if progress is not None:
                progress(done + len(results) + len(failures), total)
        if failures:
            raise CellsFailed(failures)
        return [doc for i in sorted(results) for doc in results[i]]

    def workers(self) -> int:
        """How many cells run at once: 1 serially; on Ray, the cluster's CPUs over ``cpus_per_cell``."""
        if self.name == "serial":
            return 1
        ray = _import_ray()
        self.connect()
        return max(1, int(ray.cluster_resources().get("CPU", 1) // self.cpus_per_cell))

    def connect(self) -> None:
        """Join the cluster at ``address``, or start a local instance, unless this process already has one."""
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)


SERIAL = Backend()


def _call(fn, *args) -> Written:
    return fn(*args)


def _write(written: Written) -> list[dict[str, Any]]:
    from prefzoo.algorithms.engine.processes import is_main

    for path, doc in written:
        if is_main():  # of a data-parallel cell's processes, the main one writes
            write_json_atomic(path, doc)
    return [doc for _, doc in written]


def _short(exc: BaseException) -> str:
    """The cell's own exception (its last line), not Ray's wrapper around it."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return "".join(traceback.format_exception_only(type(cause), cause)).strip()
    return "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]


def _import_ray():
    try:
        import ray
    except ModuleNotFoundError:
        raise ValueError("--backend ray needs Ray: pip install 'prefzoo[ray]' (or pip install ray)") from None
    return ray
