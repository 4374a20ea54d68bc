"""``prefzoo bench --suite bandit --tune N``: the same search budget for every algorithm of the bandit's
online, RL and reward-learning parts, as ``suites/lm/tuning.py`` gives the LM suites.

Every algorithm gets the N trials of ``search_space.trial_configs`` (trial 1 its defaults, then the same
Sobol points for all). Each trial runs on *validation seeds* — seed numbers from
``VALIDATION_FIRST_SEED`` on, as many as the test seeds, so no validation run shares a draw with a test
run — and is scored by the part's objective:

- online and RL bandits: the mean final expected true reward E_π[r] over the validation seeds (the
  quantity the LM suite selects on: the final policy's gold reward);
- reward-learning bandit: minus the mean centred RMSE of the learned reward on all arms at the last
  epoch.

The best trial (ties: the earlier one) replaces the defaults only where its gain over them, paired on
the validation seeds, exceeds the validation noise (``harness.selection``); the selected config then
runs on the test seeds and writes ordinary result files that carry the record (every candidate's config
and validation score) and the protocol in their hash, so the leaderboard shows them in a section of
their own. The pairwise part reports where each loss's policy
goes (fixed points against closed forms) and has no objective to select on: it is not tuned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from prefzoo.algorithms.framework.config import AlgorithmConfig
from prefzoo.algorithms.framework.search_space import search_space, trial_configs
from prefzoo.benchmarks.harness.selection import RULE, select_trial

VALIDATION_FIRST_SEED = 1_000_000
"""Validation seeds run from here; test seeds are the suite's (``--seed`` … ``--seed + --seeds − 1``)."""

OBJECTIVES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "online": ("final E_π[r]", lambda run: run.final_reward.double()),
    "rl": ("final E_π[r]", lambda run: run.final_reward.double()),
    "reward": ("−RMSE, all arms, last epoch", lambda run: -run.error_all[-1].double()),
}
"""Part of the bandit suite → (what is maximised, how it is read off a run: one value per seed)."""


def select_config(cls, part: str, run_fn, settings, trials: int, base: AlgorithmConfig | None = None,
                  log: Callable[[str], None] = print) -> tuple[AlgorithmConfig, dict[str, Any]]:
    """Run ``trials`` configs of ``cls`` with ``run_fn(cls, config, settings)`` on the validation seeds;
    the best config and the record its result documents carry."""
    objective, score = OBJECTIVES[part]
    validation = dataclasses.replace(settings, first_seed=VALIDATION_FIRST_SEED)
    configs = trial_configs(cls.name, cls.Config, trials, base)
    space = search_space(cls.Config, configs[0])
    per_seed = []
    for i, config in enumerate(configs):
        per_seed.append(score(run_fn(cls, config, validation)))
        searched = ", ".join(f"{k}={getattr(config, k):.4g}" for k in space) or "defaults"
        log(f"{cls.name} trial {i + 1}/{len(configs)}: validation {objective} {per_seed[-1].mean():.4f} ({searched})")
    chosen = select_trial(per_seed)
    log(f"{cls.name}: {chosen.describe()} on {settings.seeds} validation seeds")
    record = {**protocol(trials, part, settings.seeds), "selected": chosen.selected, "best": chosen.best,
              "gain": round(chosen.gain, 6), "noise": round(chosen.noise, 6),
              "space": {k: list(v) for k, v in space.items()},
              "candidates": [{"config": c.to_dict(), "validation_score": round(float(s.mean()), 6)}
                             for c, s in zip(configs, per_seed)]}
    return configs[chosen.selected], record


def protocol(trials: int, part: str, validation_seeds: int) -> dict[str, Any]:
    """What of a tuning record enters a cell's hash: how configs were selected, not which won."""
    return {"trials": trials, "objective": OBJECTIVES[part][0], "validation_first_seed": VALIDATION_FIRST_SEED,
            "validation_seeds": validation_seeds, "rule": RULE}


def hashed(record: dict[str, Any] | None) -> dict[str, Any]:
    """The settings-hash entry of a tuned cell (empty for an untuned one, whose hash stays as it was)."""
    if not record:
        return {}
    keys = ("trials", "objective", "validation_first_seed", "validation_seeds", "rule")
    return {"tuning": {k: record[k] for k in keys if k in record}}
