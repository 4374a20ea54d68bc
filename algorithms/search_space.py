"""The hyperparameter search every algorithm gets under ``prefzoo bench --tune N``: the same number of
trials, drawn from each algorithm's declared space, so a tuned comparison asks "better" and not
"better tuned".

A ``Config`` field declares its range with ``param(..., search=(low, high, "log"|"linear"))``. A config
that declares none is searched over its ``strength`` field (β, τ, λ, ...) on a log scale from a tenth to
ten times its default — the sweep the papers run over their regularisation strength — so every
algorithm with a strength has a space without a per-algorithm choice. Trial 0 is the default config
(the paper's); trials 1 … N−1 are independent draws from a generator seeded by the algorithm's name and
the trial number, so an algorithm's trials do not depend on which others are tuned beside it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random

from prefzoo.algorithms.config import AlgorithmConfig

Range = tuple[float, float, str]


def search_space(config_cls: type[AlgorithmConfig], base: AlgorithmConfig | None = None) -> dict[str, Range]:
    """Field name → (low, high, scale) for every searched field of ``config_cls``."""
    fields = dataclasses.fields(config_cls)
    declared = {f.name: f.metadata["search"] for f in fields if "search" in f.metadata}
    if declared or config_cls.strength is None:
        return declared
    default = getattr(base or config_cls(), config_cls.strength)
    if not isinstance(default, float) or default <= 0:
        return {}
    return {config_cls.strength: (default / 10, default * 10, "log")}


def _draw(low: float, high: float, scale: str, u: float) -> float:
    if scale == "log":
        return float(math.exp(math.log(low) + u * (math.log(high) - math.log(low))))
    return low + u * (high - low)


def trial_configs(name: str, config_cls: type[AlgorithmConfig], trials: int,
                  base: AlgorithmConfig | None = None) -> list[AlgorithmConfig]:
    """``trials`` configs: the default (or ``base``) first, then draws from ``search_space``. A draw the
    config's own bounds refuse (a range wider than a bound) is clipped into them by redrawing."""
    if trials < 1:
        raise ValueError(f"--tune {trials}: needs at least 1 trial")
    base = base or config_cls()
    space = search_space(config_cls, base)
    out = [base]
    for i in range(1, trials if space else 1):
        rng = random.Random(int(hashlib.sha256(f"trial:{i}".encode()).hexdigest()[:12], 16))  # the same u for all
        for _ in range(100):
            values = {field: _draw(*space[field], rng.random()) for field in sorted(space)}
            try:
                out.append(dataclasses.replace(base, **values))
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"{name}: no draw from its search space {space} passes its bounds")
    return out
