"""Small statistics the suites and the leaderboard share (kept dependency-free: no SciPy)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence


@functools.lru_cache(maxsize=256)  # a leaderboard asks for the same few (p, df) thousands of times
def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (bisection on the CDF).

    The CDF is the regularised incomplete beta function, evaluated by its continued fraction
    (Numerical Recipes §6.4); 1e-10 accuracy is plenty for a confidence interval.
    """
    if not 0 < p < 1 or df < 1:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df >= 1, got p={p}, df={df}")

    def cdf(t: float) -> float:
        x = df / (df + t * t)
        tail = 0.5 * _betainc(df / 2, 0.5, x)
        return 1 - tail if t > 0 else tail

    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        if cdf(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1 - math.exp(log_front) * _betacf(b, a, 1 - x) / b


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (0 for a single value)."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci of no values")
    mean = sum(values) / n
    if n == 1:
        return mean, 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)


def bootstrap_ci(values: Sequence[float], groups: Sequence[int], level: float = 0.95, resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` and a percentile bootstrap interval that resamples whole groups (prompts),
    since samples of one prompt are not independent. Returns (mean, low, high)."""
    import torch

    if len(values) == 0 or len(values) != len(groups):
        raise ValueError(f"bootstrap_ci needs one group per value, got {len(values)} values, {len(groups)} groups")
    v = torch.tensor(values, dtype=torch.float64)
    keys = sorted(set(groups))
    index = torch.tensor([keys.index(g) for g in groups])
    sums = torch.zeros(len(keys), dtype=torch.float64).index_add_(0, index, v)
    counts = torch.zeros(len(keys), dtype=torch.float64).index_add_(0, index, torch.ones_like(v))
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, len(keys), (resamples, len(keys)), generator=g)
    means = sums[pick].sum(1) / counts[pick].sum(1)
    tail = (1 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return float(v.mean()), low, high
