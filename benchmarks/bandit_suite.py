"""The bandit suite as the harness and the leaderboard see it: runs, result files, tables, plot."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefzoo import __version__
from prefzoo.algorithms.base import Algorithm, Family
from prefzoo.algorithms.config import AlgorithmConfig
from prefzoo.benchmarks import bandit_report
from prefzoo.benchmarks.bandit import DATASETS, SUITE, BanditSettings, run_bandit, sweep_configs
from prefzoo.benchmarks.online_bandit import OnlineBanditSettings, run_online_bandit
from prefzoo.benchmarks.rl_bandit import RLBanditSettings, run_rl_bandit
from prefzoo.benchmarks.reward_bandit import RewardBanditSettings, run_reward_bandit
from prefzoo.benchmarks.results import result_path, run_hash, write_json_atomic



class BanditSuite:
    """Azar et al. 2023 §5.4 and the IPO closed form for every pairwise algorithm; the online
    K-armed bandit (``online_bandit``) for every online-preference algorithm."""

    name = SUITE
    families = (Family.PAIRWISE, Family.ONLINE, Family.REWARD, Family.RL)

    def run(self, algorithms: Sequence[type[Algorithm]], results_root: Path, *, seeds: int | None = None,
            steps: int | None = None, strengths: Sequence[float] | None = None,
            base_configs: dict[str, AlgorithmConfig] | None = None, seed: int = 0,
            progress: Callable[[int, int], None] | None = None,
            log: Callable[[str], None] = print) -> list[dict[str, Any]]:
        """Train, write one result file per (algorithm, config, seed), and return the documents. Seeds
        run from ``seed`` to ``seed + seeds − 1``."""
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
        pairwise, online = by_family[Family.PAIRWISE], by_family[Family.ONLINE]
        docs = self._run_pairwise(pairwise, settings, results_root, base_configs, progress) if pairwise else []
        if online:
            online_settings = dataclasses.replace(OnlineBanditSettings(), seeds=settings.seeds,
                                              first_seed=settings.first_seed)
            docs += self._run_online(online, settings.strengths, online_settings, results_root, base_configs)
        rl = [c for c in by_family[Family.RL] if not c.uses_critic]
        for cls in by_family[Family.RL]:
            if cls.uses_critic:
                log(f"{cls.name}: not run on the bandit (it learns a critic; the bandit has one state)")
        if rl:
            rl_settings = dataclasses.replace(RLBanditSettings(), seeds=settings.seeds,
                                              first_seed=settings.first_seed)
            docs += self._run_rl(rl, settings.strengths, rl_settings, results_root, base_configs)
        reward = by_family[Family.REWARD]
        if reward:
            reward_settings = dataclasses.replace(RewardBanditSettings(), seeds=settings.seeds,
                                              first_seed=settings.first_seed)
            docs += self._run_reward(reward, reward_settings, results_root, base_configs)
        return docs

    def _run_reward(self, algorithms, settings: RewardBanditSettings, results_root: Path,
                    base_configs) -> list[dict[str, Any]]:
        docs = []
        for cls, config in ((c, k) for c in algorithms
                            for k in sweep_configs(c, settings.strengths, (base_configs or {}).get(c.name))):
            start = time.perf_counter()
            run = run_reward_bandit(cls, config, settings)
            wall = time.perf_counter() - start
            digest = run_hash(run.config.to_dict(), settings.to_dict())
            for seed in range(settings.seeds):
                doc = {
                    **_identity(cls, run.config, settings.first_seed + seed, digest), "settings": settings.to_dict(),
                    "suite_wall_time_s": round(wall, 2),
                    "reward": {
                        "epochs": run.epochs,
                        "error_all": _rounded(run.error_all[:, seed].tolist()),
                        "error_rare": _rounded(run.error_rare[:, seed].tolist()),
                        "rewards": _rounded(run.rewards[seed].tolist()),
                        "counts": [int(c) for c in run.counts[seed].tolist()],
                    },
                }
                write_json_atomic(result_path(results_root, SUITE, cls.name, settings.first_seed + seed, digest), doc)
                docs.append(doc)
        return docs

    # ------------------------------------------------------------------ report (``bandit_report``)
    def tables(self, docs: Sequence[dict[str, Any]]) -> list[tuple[str, list[str], list[list[str]]]]:
        return bandit_report.tables(docs)

    def table(self, docs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
        return bandit_report.table(docs)

    def plot(self, docs: Sequence[dict[str, Any]], path: Path) -> Path | None:
        return bandit_report.plot(docs, path)

    def section(self, docs: Sequence[dict[str, Any]], out_dir: Path) -> str:
        return bandit_report.section(docs, out_dir)

    def _run_pairwise(self, algorithms, settings: BanditSettings, results_root: Path, base_configs,
                      progress) -> list[dict[str, Any]]:
        start = time.perf_counter()
        runs = run_bandit(algorithms, settings, progress=progress, base_configs=base_configs)
        wall = time.perf_counter() - start
        docs = []
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
                write_json_atomic(result_path(results_root, SUITE, cls.name, settings.first_seed + seed, digest), doc)
                docs.append(doc)
        return docs

    def _run_online(self, algorithms, strengths, settings: OnlineBanditSettings, results_root: Path,
                    base_configs) -> list[dict[str, Any]]:
        def costs(run, seeds: int) -> dict[str, Any]:
            return {"oracle_queries": run.oracle_queries // seeds, "responses_sampled": run.responses_sampled // seeds,
                    "dataset_pairs": run.dataset_sizes[-1]}

        return self._run_per_seed("online", run_online_bandit, costs, algorithms, strengths, settings, results_root,
                                  base_configs)

    def _run_rl(self, algorithms, strengths, settings: RLBanditSettings, results_root: Path,
                base_configs) -> list[dict[str, Any]]:
        def costs(run, seeds: int) -> dict[str, Any]:
            return {"oracle_queries": run.reward_queries, "responses_sampled": run.reward_queries}

        return self._run_per_seed("rl", run_rl_bandit, costs, algorithms, strengths, settings, results_root,
                                  base_configs)

    def _run_per_seed(self, key: str, run_fn, costs, algorithms, strengths, settings, results_root: Path,
                      base_configs) -> list[dict[str, Any]]:
        """The online and RL bandits: every (algorithm, config) run once for all seeds, then one result
        file per seed with its outcome under ``key``."""
        docs = []
        for cls in algorithms:
            for config in sweep_configs(cls, strengths, (base_configs or {}).get(cls.name)):
                start = time.perf_counter()
                run = run_fn(cls, config, settings)
                wall = time.perf_counter() - start
                digest = run_hash(config.to_dict(), settings.to_dict())
                for seed in range(settings.seeds):
                    doc = {
                        **_identity(cls, config, settings.first_seed + seed, digest), "settings": settings.to_dict(),
                        "suite_wall_time_s": round(wall, 2),
                        key: {
                            "final_reward": round(run.final_reward[seed].item(), 6),
                            "best_arm_prob": round(run.best_arm_prob[seed].item(), 6),
                            "kl": round(run.kl[seed].item(), 6), "regret": round(run.regret[seed].item(), 4),
                            **costs(run, settings.seeds),
                            "curve_rounds": run.curve_rounds, "curve": _rounded(run.curve[:, seed].tolist()),
                        },
                    }
                    write_json_atomic(result_path(results_root, SUITE, cls.name, settings.first_seed + seed, digest), doc)
                    docs.append(doc)
        return docs

    # ------------------------------------------------------------------ tables
    # ------------------------------------------------------------------ plot
    # ------------------------------------------------------------------ leaderboard


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(v, 6) for v in values]














def _identity(cls, config: AlgorithmConfig, seed: int, digest: str) -> dict[str, Any]:
    from prefzoo.registry import ALGORITHMS

    field = cls.Config.strength
    return {"suite": SUITE, "algorithm": cls.name, "family": str(cls.family), "paper": cls.paper,
            "origin": ALGORITHMS.origin(cls.name) if cls.name in ALGORITHMS else cls.__module__,
            "seed": seed, "hash": digest, "config": config.to_dict(),
            "strength": {"field": field, "value": getattr(config, field)} if field else None,
            "prefzoo_version": __version__}
