"""The hyperparameter search every algorithm gets under ``prefzoo bench --tune N``: the same number of
trials, drawn from each algorithm's declared space, so a tuned comparison asks "better" and not
"better tuned".

A ``Config`` field declares its range with ``param(..., search=(low, high, "log"|"linear"))``. A config
that declares none is searched over its ``strength`` field (β, τ, λ, ...) on a log scale from a tenth to
ten times its default — the sweep the papers run over their regularisation strength — so every
algorithm with a strength has a space without a per-algorithm choice. Trial 0 is the default config
(the paper's); trials 1 … N−1 are the points of one scrambled Sobol sequence (fixed seed) of the
space's dimension, mapped onto each field's range: the same numbers for every algorithm (common random
numbers, so none gets luckier draws), an algorithm's trials do not depend on which others are tuned
beside it, and a few trials already cover the range evenly (independent uniform draws need not: the 7
draws this module used first all fell below the middle of every range).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from prefzoo.algorithms.framework.config import AlgorithmConfig

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
    """``trials`` configs: the default (or ``base``) first, then points of ``search_space``. A point the
    config's own bounds refuse (a range wider than a bound) is replaced by the sequence's next one."""
    if trials < 1:
        raise ValueError(f"--tune {trials}: needs at least 1 trial")
    base = base or config_cls()
    space = search_space(config_cls, base)
    out = [base]
    if not space:
        return out
    fields = sorted(space)
    sobol = torch.quasirandom.SobolEngine(len(fields), scramble=True, seed=0)
    while len(out) < trials:
        for _ in range(100):
            point = sobol.draw(1)[0].tolist()
            try:
                out.append(dataclasses.replace(base, **{f: _draw(*space[f], u) for f, u in zip(fields, point)}))
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"{name}: no point of its search space {space} passes its bounds")
    return out


def strength_sweep(config_cls: type[AlgorithmConfig], points: int,
                   base: AlgorithmConfig | None = None) -> list[AlgorithmConfig]:
    """``base`` (default: the defaults) at ``points`` values of its strength field (β, τ, ...), evenly spaced
    in the field's scale over its declared search range, else log-evenly from a tenth to ten times its
    value (an odd count has that value in the middle); ``base`` alone for a config without a numeric
    strength field. A value the field's bounds refuse is left out."""
    base = base or config_cls()
    field = config_cls.strength
    default = getattr(base, field, None) if field else None
    if not isinstance(default, float) or points < 1:
        return [base]
    declared = search_space(config_cls, base).get(field)
    low, high, scale = declared if declared else (default / 10, default * 10, "log")
    out = []
    for k in range(points):
        try:
            # six significant digits: the middle of a log range lands on the default itself, not 0.0999...
            value = float(f"{_draw(low, high, scale, k / max(points - 1, 1)):.6g}")
            out.append(dataclasses.replace(base, **{field: value}))
        except ValueError:
            continue
    return out or [base]
