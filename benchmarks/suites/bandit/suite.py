"""The bandit suite as the harness and the leaderboard see it: runs, result files, tables, plot.

Its work is a list of ``backends.Cell``s, so it runs serially or as Ray tasks alike: the pairwise part
(one vectorised run of every algorithm; on Ray, the algorithms shared out over one cell per worker —
the numbers are the same, as each algorithm's rows and random streams are its own), and one cell per
online, RL or reward-learning config (with ``--tune``, per algorithm: its trials, then the selected
config's run).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefzoo import __version__
from prefzoo.algorithms.framework.base import Algorithm, Family
from prefzoo.algorithms.framework.config import AlgorithmConfig
from prefzoo.benchmarks.harness.backends import Cell, Written
from prefzoo.benchmarks.harness.documents import SCHEMA_VERSION
from prefzoo.benchmarks.harness.results import result_path, run_hash
from prefzoo.benchmarks.harness.suite import Suite, SuiteOptions, at_least
from prefzoo.benchmarks.suites.bandit import plot as bandit_plot
from prefzoo.benchmarks.suites.bandit import report as bandit_report
from prefzoo.benchmarks.suites.bandit import tuning as bandit_tuning
from prefzoo.benchmarks.suites.bandit.documents import BanditResult
from prefzoo.benchmarks.suites.bandit.online import OnlineBanditSettings, run_online_bandit
from prefzoo.benchmarks.suites.bandit.pairwise import DATASETS, SUITE, BanditSettings, run_bandit, sweep_configs
from prefzoo.benchmarks.suites.bandit.reward import RewardBanditSettings, run_reward_bandit
from prefzoo.benchmarks.suites.bandit.rl import RLBanditSettings, run_rl_bandit


REWARD_LABEL_FRACTIONS = (1.0, 0.3, 0.1)
"""The label budgets of the reward-learning part: its label-budget curve, and the unlabelled share a
semi-supervised learner (SER) self-labels."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BanditOptions(SuiteOptions):
    strengths: tuple[float, ...] | None = None
    """Comma-separated values of each algorithm's strength field (β, τ, ...)."""
    tune: int | None = at_least(1)
    """Give the online, RL and reward-learning algorithms N trials each from their search spaces, selected
    on validation seeds and reported on the test seeds (a section of its own)."""


class BanditSuite(Suite):
    """Azar et al. 2023 §5.4 and the IPO closed form for every pairwise algorithm; the online
    K-armed bandit (``online``) for every online-preference algorithm, critic-free RL on the
    same bandit, and long-tailed comparisons for every reward learner."""

    name = SUITE
    order = 90
    families = (Family.PAIRWISE, Family.ONLINE, Family.REWARD, Family.RL)
    Options = BanditOptions
    Document = BanditResult

    def execute(self, algorithms: Sequence[type[Algorithm]], results_root: Path, options: BanditOptions,
                base_configs: dict[str, AlgorithmConfig], progress: Callable[[int, int], None] | None,
                log: Callable[[str], None]) -> list[dict[str, Any]]:
        """Train, write one result file per (algorithm, config, seed), and return the documents. Seeds
        run from ``seed`` to ``seed + seeds − 1``. With ``tune``, the online, RL and reward-learning
        algorithms each get that many trials selected on validation seeds (``tuning``) and run the
        selected config only; the pairwise part has no objective to select on and is not run."""
        backend = options.backend
        serial = backend.name == "serial"
        return backend.run(self.cells(algorithms, results_root, seeds=options.seeds, steps=options.steps,
                                      strengths=options.strengths, base_configs=base_configs, seed=options.seed,
                                      tune=options.tune, pairwise_cells=backend.workers(),
                                      progress=progress if serial else None, log=log), progress, log)

    def cells(self, algorithms: Sequence[type[Algorithm]], results_root: Path, *, seeds: int | None = None,
              steps: int | None = None, strengths: Sequence[float] | None = None,
              base_configs: dict[str, AlgorithmConfig] | None = None, seed: int = 0, tune: int | None = None,
              pairwise_cells: int = 1, progress: Callable[[int, int], None] | None = None,
              log: Callable[[str], None] = print) -> list[Cell]:
        """The run's cells. ``pairwise_cells``: how many cells share the pairwise algorithms (one per
        worker; each is one vectorised run of its share); ``progress`` reports a pairwise cell's steps."""
        settings = BanditSettings()
        changes = {k: v for k, v in dict(seeds=seeds, steps=steps, first_seed=seed,
                                          strengths=tuple(strengths) if strengths else None).items() if v}
        settings = BanditSettings(**{**settings.__dict__, **changes})
        for cls in algorithms:
            if cls.family not in self.families:
                raise ValueError(f"the bandit suite does not train {cls.family} algorithms ({cls.name!r})")
        by_family = {f: [c for c in algorithms if c.family == f] for f in self.families}
        others = [c.name for f in (Family.ONLINE, Family.RL, Family.REWARD) for c in by_family[f]]
        if steps and others:  # their budgets are rounds and epochs, not optimiser steps
            raise ValueError(f"--steps sets the optimiser steps of the pairwise part of the bandit suite; the online, "
                             f"RL and reward-learning parts count rounds and epochs of their own, so it does not "
                             f"apply to {', '.join(others)}: add --family pairwise, or drop --steps")
        if tune and strengths:
            raise ValueError("--tune draws each algorithm's strength from its search space; drop --strengths")
        pairwise = by_family[Family.PAIRWISE]
        if tune and pairwise:
            log(f"{', '.join(c.name for c in pairwise)}: not tuned (the pairwise bandit reports fixed points, "
                "it has no objective to select a config on); run without --tune")
            pairwise = []
        for cls in by_family[Family.RL]:
            if cls.uses_critic:
                log(f"{cls.name}: not run on the bandit (it learns a critic; the bandit has one state)")
        for cls in by_family[Family.REWARD]:
            if cls.extracts_policy:
                log(f"{cls.name}: not run on the bandit (it extracts a reward from a trained LM policy)")
            if cls.uses_principles:
                log(f"{cls.name}: not run on the bandit (its input is a principle's text; smol-two-factor has them)")
        bases = base_configs or {}
        n = min(pairwise_cells, len(pairwise))
        groups = [pairwise[i::n] for i in range(n)]
        cells = [Cell(f"{', '.join(c.name for c in group)} (pairwise bandit)", pairwise_cell,
                      (group, settings, bases, results_root, progress)) for group in groups]
        parts = (("online", by_family[Family.ONLINE], OnlineBanditSettings()),
                 ("rl", [c for c in by_family[Family.RL] if not c.uses_critic], RLBanditSettings()),
                 ("reward", [c for c in by_family[Family.REWARD] if not (c.extracts_policy or c.uses_principles)],
                  RewardBanditSettings()))
        for part, members, defaults in parts:
            part_settings = dataclasses.replace(defaults, seeds=settings.seeds, first_seed=settings.first_seed)
            strengths_of_part = settings.strengths if part != "reward" else part_settings.strengths
            # The reward part runs each learner at every label budget (untuned: tuning selects at full labels).
            budgets = [part_settings] if part != "reward" or tune else [
                dataclasses.replace(part_settings, label_fraction=f) for f in REWARD_LABEL_FRACTIONS]
            for cls in members:  # one cell per config (cells of even length keep workers busy), or per tuning
                configs = [bases.get(cls.name)] if tune else sweep_configs(cls, strengths_of_part, bases.get(cls.name))
                cells += [Cell(f"{cls.name}{_label(cls, config, tune)}{_budget(budget)} ({part} bandit)", part_cell,
                               (part, cls, budget, config, tune, results_root, log))
                          for config in configs for budget in budgets]
        return cells

    # ------------------------------------------------------------------ report (``report``)
    def tables(self, docs: Sequence[BanditResult]) -> list[tuple[str, list[str], list[list[str]]]]:
        return bandit_report.tables(docs)

    def table(self, docs: Sequence[BanditResult]) -> tuple[list[str], list[list[str]]]:
        return bandit_report.table(docs)

    def plot(self, docs: Sequence[BanditResult], path: Path) -> Path | None:
        return bandit_plot.plot(docs, path)

    def section(self, docs: Sequence[BanditResult], out_dir: Path) -> str:
        return bandit_report.section(docs, out_dir)



def pairwise_cell(algorithms, settings: BanditSettings, base_configs: dict[str, AlgorithmConfig],
                  results_root: Path, progress: Callable[[int, int], None] | None = None) -> Written:
    """The pairwise bandit for ``algorithms`` (one vectorised run): a result per (config, seed)."""
    start = time.perf_counter()
    runs = run_bandit(algorithms, settings, progress=progress, base_configs=base_configs)
    wall = time.perf_counter() - start
    out = []
    for run in runs:
        cls, config = run.algorithm, run.config
        digest = run_hash(config.to_dict(), settings.to_dict())
        for seed in range(settings.seeds):
            doc = {
                **_identity(cls, config, settings.first_seed + seed, digest), "settings": settings.to_dict(),
                "vectorised": run.vectorised, "suite_wall_time_s": round(wall, 2), "steps": run.steps,
                "datasets": {
                    ds.name: {
                        "arms": list(ds.arms),
                        "final": _rounded(run.final()[d, seed, :len(ds.arms)].tolist()),
                        "curve": [_rounded(p[d, seed, :len(ds.arms)].tolist()) for p in run.curves],
                    } for d, ds in enumerate(DATASETS)},
            }
            path = result_path(results_root, SUITE, cls.name, settings.first_seed + seed, digest)
            out.append((path, BanditResult.checked(doc)))
    return out


PART_RUNS = {"online": run_online_bandit, "rl": run_rl_bandit, "reward": run_reward_bandit}


def part_cell(part: str, cls, settings, config: AlgorithmConfig | None, tune: int | None, results_root: Path,
              log: Callable[[str], None] = print) -> Written:
    """One online, RL or reward-learning config on its bandit (with ``tune``: the config selected from
    ``tune`` trials around ``config``), run once for all seeds: a result per seed."""
    run_fn = PART_RUNS[part]
    record = None
    if tune:
        config, record = bandit_tuning.select_config(cls, part, run_fn, settings, tune, config, log)
    start = time.perf_counter()
    run = run_fn(cls, config, settings)
    wall = time.perf_counter() - start
    digest = run_hash(run.config.to_dict(), {**settings.to_dict(), **bandit_tuning.hashed(record)})
    out = []
    for seed in range(settings.seeds):
        doc = {**_identity(cls, run.config, settings.first_seed + seed, digest), "settings": settings.to_dict(),
               "suite_wall_time_s": round(wall, 2), **({"tuning": record} if record else {}),
               part: _outcome(part, run, seed, settings.seeds)}
        path = result_path(results_root, SUITE, cls.name, settings.first_seed + seed, digest)
        out.append((path, BanditResult.checked(doc)))
    return out


def _outcome(part: str, run, seed: int, seeds: int) -> dict[str, Any]:
    if part == "reward":
        self_labelled = ({"self_labelled": int(run.self_labelled[seed]), "rounds": int(run.rounds[seed])}
                         if run.rounds is not None else {})
        return {"epochs": run.epochs, "error_all": _rounded(run.error_all[:, seed].tolist()),
                "error_rare": _rounded(run.error_rare[:, seed].tolist()),
                "rewards": _rounded(run.rewards[seed].tolist()), "counts": [int(c) for c in run.counts[seed].tolist()],
                "labelled": run.labelled, **self_labelled}
    costs = ({"oracle_queries": run.oracle_queries // seeds, "responses_sampled": run.responses_sampled // seeds,
              "dataset_pairs": run.dataset_sizes[-1]} if part == "online" else
             {"oracle_queries": run.reward_queries, "responses_sampled": run.reward_queries})
    return {"final_reward": round(run.final_reward[seed].item(), 6),
            "best_arm_prob": round(run.best_arm_prob[seed].item(), 6),
            "kl": round(run.kl[seed].item(), 6), "regret": round(run.regret[seed].item(), 4), **costs,
            "curve_rounds": run.curve_rounds, "curve": _rounded(run.curve[:, seed].tolist())}

def _label(cls, config: AlgorithmConfig | None, tune: int | None) -> str:
    field = cls.Config.strength
    if tune:
        return f", {tune} trials"
    return f" {field}={getattr(config, field):g}" if field and config is not None else ""


def _budget(settings) -> str:
    fraction = getattr(settings, "label_fraction", 1.0)
    return f", {fraction:.0%} of labels" if fraction < 1 else ""


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(v, 6) for v in values]


def _identity(cls, config: AlgorithmConfig, seed: int, digest: str) -> dict[str, Any]:
    from prefzoo.registry import ALGORITHMS

    field = cls.Config.strength
    return {"schema": SCHEMA_VERSION, "suite": SUITE, "algorithm": cls.name, "family": str(cls.family), "paper": cls.paper,
            "origin": ALGORITHMS.origin(cls.name) if cls.name in ALGORITHMS else cls.__module__,
            "seed": seed, "hash": digest, "config": config.to_dict(),
            "strength": {"field": field, "value": getattr(config, field)} if field else None,
            "prefzoo_version": __version__}
