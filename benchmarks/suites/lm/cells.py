"""The LM suites' work as ``backends.Cell``s, in waves: with ``--tune``, each algorithm's trials; then
the shared work — data and reference log-probs, computed once into the cache folder by one cell —
then one reference cell per seed, then one cell per (algorithm, seed), which compares its samples with
its seed's reference samples (handed over by the driver, so a worker need not see the results folder);
cells that read other cells' trained policies (reward extraction) come last.

A serial run calls the same cell functions in this process on the driver's own ``LMRun`` (the model is
loaded once). A Ray task receives a pickled ``LMRun`` without model or data (``LMRun.__getstate__``);
``live`` keeps one loaded copy per worker process, so a CPU worker loads the model once for all the
cells it runs. (Ray ends a GPU task's worker after each task, so a GPU cell loads its model itself.)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

from prefzoo.algorithms.engine.processes import wait_for_everyone
from prefzoo.algorithms.framework.search_space import strength_sweep
from prefzoo.benchmarks.harness.backends import Backend, Cell, CellsFailed, Written

_LIVE: dict[str, Any] = {}


def live(run):
    """The loaded run a cell works with: the driver's own in a serial run; in a Ray worker, the copy this
    process loaded for the first cell of the same run (one at a time: a new run drops the old model)."""
    if not run.unpickled:
        return run
    key = run.identity()
    if key not in _LIVE:
        _LIVE.clear()
        _LIVE[key] = run
    return _LIVE[key]


def prepare_cell(run) -> Written:
    """Data and reference log-probs into the cache folder, once, before the cells that read them."""
    live(run).load()
    return []


def tuning_cell(run, cls, trials: int, seed: int, base) -> Written:
    """An algorithm's ``--tune`` trials; their scores go to the runs folder, where the driver reads them."""
    from prefzoo.benchmarks.suites.lm.tuning import select_config

    select_config(live(run), cls, trials, seed, base)
    return []


def algorithm_cell(run, name: str, cls, config, seed: int, tuning: dict[str, Any] | None,
                   reference: list | None = None) -> Written:
    """One (algorithm, seed) cell, or the reference cell of a seed (``cls`` None): (path, document)."""
    run = live(run)
    if reference is not None:
        run.reference_eval[seed] = reference
    return [run.compute(name, cls, config, seed, tuning)]


def _reads_policies(cls, config) -> bool:
    """Whether a cell reads other cells' trained policies (reward extraction, or an RL algorithm whose
    reward learner extracts): it runs in a wave after theirs."""
    from prefzoo.algorithms.framework.base import Family
    from prefzoo.registry import ALGORITHMS

    if cls.family == Family.REWARD:
        return cls.extracts_policy
    learner = getattr(config, "reward_learner", None)
    return bool(learner) and ALGORITHMS.get(learner).extracts_policy


# (field naming another algorithm, field holding that algorithm's changed fields) in a config
NAMED_CONFIGS = (("reward_learner", "reward_learner_config"), ("policy", "policy_config"))


def _with_named_config(config, name_field: str, config_field: str, named):
    """``config`` carrying ``named``, the complete config of the algorithm its ``name_field`` names and
    this run also trains (``--set``), as that config's fields that differ from its defaults
    (``config_field``): an RL cell then trains the same reward model as its learner's cell, an extractor
    reads the adapter of its policy's cell, and the hash says so."""
    from prefzoo.algorithms.framework.config import changed_fields

    overrides, held = changed_fields(named), getattr(config, config_field)
    if not overrides or overrides == held:
        return config
    if held:
        raise ValueError(f"two configs for {getattr(config, name_field)}: {config_field} = {held!r} and the "
                         f"run's own {overrides!r}; give one")
    return dataclasses.replace(config, **{config_field: overrides})


def _complete_configs(configs: dict) -> dict:
    """The run's configs by algorithm, each with the configs of the algorithms it names that this run
    also trains folded in (an RL algorithm's reward learner, an extractor's policy), each of those
    complete first: irl on PPO's policy reads the PPO trained on ``--set``'s reward learner, and PPO on
    irl's reward trains the irl that reads ``--set``'s policy."""
    done: dict = {}
    busy: list[str] = []

    def complete(name: str):
        if name in done:
            return done[name]
        if name in busy:
            raise ValueError(f"the configs of {' → '.join(busy[busy.index(name):] + [name])} name each other "
                             "in a cycle: no order can train them")
        busy.append(name)
        config = configs[name]
        for name_field, config_field in NAMED_CONFIGS:
            named = getattr(config, name_field, None)
            if hasattr(config, config_field) and named in configs:
                config = _with_named_config(config, name_field, config_field, complete(named))
        busy.pop()
        done[name] = config
        return config

    return {name: complete(name) for name in configs}


def run_cells(run, algorithms: Sequence[type], seeds: Sequence[int], base_configs: dict, tune: int | None,
              backend: Backend, progress: Callable[[int, int], None] | None,
              sweep: int | None = None) -> list[dict[str, Any]]:
    """Every cell of the run that has no result yet, in waves on ``backend``; the documents of all cells
    (read back where finished before), in order: the reference's seeds, then each algorithm's (with
    ``sweep``, at that many values of its strength field: ``search_space.strength_sweep``)."""
    from prefzoo.benchmarks.suites.lm.profiles import REFERENCE
    from prefzoo.benchmarks.suites.lm.tuning import select_config

    serial = backend.name == "serial"
    configs = _complete_configs({cls.name: base_configs.get(cls.name) or cls.Config() for cls in algorithms})
    selected: dict[str, tuple] = {}
    if tune and algorithms:
        if not serial:  # the trials run on workers; the driver then reads their scores back
            backend.run([Cell(f"{cls.name} tuning", tuning_cell, (run, cls, tune, seeds[0], configs[cls.name]), gpu=True)
                         for cls in algorithms], log=run.log)
        selected = {cls.name: select_config(run, cls, tune, seeds[0], configs[cls.name]) for cls in algorithms}
    planned = [(REFERENCE, None, None, s, None) for s in seeds]
    for cls in algorithms:
        config, tuning = selected.get(cls.name, (configs[cls.name], None))
        for swept in strength_sweep(cls.Config, sweep, config) if sweep else [config]:
            planned += [(cls.name, cls, swept, s, tuning) for s in seeds]
    docs: dict[int, dict[str, Any]] = {}
    for i, (name, _, config, seed, tuning) in enumerate(planned):
        path = run.result_path(name, config, seed, tuning)
        if path.exists():
            run.log(f"{name} seed {seed}: done already ({path.name})")
            docs[i] = json.loads(path.read_text())
    todo = [i for i in range(len(planned)) if i not in docs]
    wait_for_everyone()  # the processes of a data-parallel run agree on what is done before the main one writes
    if todo and not serial:
        backend.run([Cell("data and reference log-probs", prepare_cell, (run,), gpu=True)], log=run.log)
    reads = [i for i in todo if planned[i][1] is not None and _reads_policies(planned[i][1], planned[i][2])]
    trains = [i for i in todo if planned[i][1] is not None and i not in reads]
    failures: list[tuple[str, str]] = []
    for wave in ([i for i in todo if planned[i][1] is None], trains, reads):
        # a cell whose seed's reference failed is not run: it is compared with the reference's samples
        lost = {seed for _, cls, _, seed, _ in (planned[i] for i in todo) if cls is None and i not in docs}
        if planned and wave and planned[wave[0]][1] is not None:
            failures += [(f"{planned[i][0]} seed {planned[i][3]}", "not run: its seed's reference cell failed")
                         for i in wave if planned[i][3] in lost]
            wave = [i for i in wave if planned[i][3] not in lost]
        cells = []
        for i in wave:
            name, cls, config, seed, tuning = planned[i]
            reference = None if serial or cls is None else run.reference_samples(seed)
            cells.append(Cell(f"{name} seed {seed}", algorithm_cell, (run, name, cls, config, seed, tuning, reference),
                              gpu=True))
        try:  # a failed cell fails alone: the wave's other cells are written, and the later waves run
            written = backend.run(cells, progress, run.log, done=len(docs), total=len(planned))
        except CellsFailed as failed:
            failures += failed.failures
            for i in wave:  # the wave's cells that did finish are written: read back
                name, _, config, seed, tuning = planned[i]
                if (path := run.result_path(name, config, seed, tuning)).exists():
                    docs[i] = json.loads(path.read_text())
            continue
        for i, doc in zip(wave, written):
            docs[i] = doc
    if failures:
        raise CellsFailed(failures)
    if progress is not None:
        progress(len(planned), len(planned))
    return [docs[i] for i in range(len(planned))]
