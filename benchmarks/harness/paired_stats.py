"""Statistics for comparing policies evaluated on the same prompts with several training seeds.

A row's metric is a matrix M[s, p]: the mean over the samples of prompt p of the policy trained with
seed s. Three questions, three tools:

- *How sure is this mean?* A bootstrap that resamples seeds and prompts together (two levels, since
  seeds and prompts are both sources of variation; with one seed it is the within-run bootstrap over
  prompts and says so).
- *Does this row differ from that one?* The paired difference D[s, p] = M[s, p] − M'[s, p] on the same
  prompts (and seeds where both rows have them): its two-level bootstrap interval, and the p-value of a
  sign-flip permutation test over prompts of the seed-averaged difference (exact for up to 16 prompts,
  Monte Carlo beyond, and its normal approximation where no Monte Carlo pattern reaches the observed
  difference, so that a p-value is never the Monte Carlo floor). Several rows are compared at once, so
  p-values are Holm-adjusted (Holm 1979).
- *Where does this row rank?* Ranks recomputed on each bootstrap resample (prompts resampled jointly for
  all rows), and the 95% interval of each row's rank.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch

RESAMPLES = 4000


def bootstrap_means(matrix: torch.Tensor, resamples: int = RESAMPLES, seed: int = 0,
                    prompts: torch.Tensor | None = None) -> torch.Tensor:
    """Means of ``matrix`` (S seeds × P prompts) over resampled seeds and prompts; shape (resamples,).
    ``prompts`` (resamples × P indices) shares one prompt resampling between rows."""
    S, P = matrix.shape
    g = torch.Generator().manual_seed(seed)
    seeds = torch.randint(0, S, (resamples, S), generator=g)
    if prompts is None:
        prompts = torch.randint(0, P, (resamples, P), generator=g)
    picked = matrix.double()[seeds]  # (R, S, P)
    return picked.gather(2, prompts[:, None, :].expand(-1, S, -1)).mean((1, 2))


def interval(matrix: torch.Tensor, level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Mean and percentile interval of the two-level bootstrap: {"mean", "low", "high", "seeds"}."""
    means = bootstrap_means(matrix, seed=seed)
    tail = (1 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return {"mean": float(matrix.double().mean()), "low": low, "high": high, "seeds": matrix.shape[0]}


def sign_flip_p(differences: Sequence[float], resamples: int = 20_000, seed: int = 0) -> float:
    """Two-sided p-value of the paired sign-flip test that the mean of ``differences`` (one per
    prompt) is 0: the share of sign patterns whose |mean| reaches the observed |mean|, counting the
    observed one. Exact enumeration for up to 16 prompts, else ``resamples`` random patterns (and the
    observed one). Where no random pattern reaches it, the Monte Carlo estimate would only say
    p ≤ 1/(resamples + 1) (after Holm over many rows, a floor every clear difference sits on), so the
    test's normal approximation is used instead: under sign flips Σ ε_i d_i has mean 0 and variance
    Σ d_i², so p = erfc(|Σ d_i| / sqrt(2 Σ d_i²)) (Fisher 1935; accurate for the n > 16 prompts it serves)."""
    d = torch.as_tensor(list(differences), dtype=torch.float64)
    n = len(d)
    if n == 0:
        raise ValueError("sign_flip_p of no differences")
    observed = d.mean().abs()
    tolerance = 1e-12 * max(1.0, float(d.abs().max()))
    if n <= 16:
        signs = torch.tensor(list(itertools.product((1.0, -1.0), repeat=n)), dtype=torch.float64)
        return float(((signs @ d / n).abs() >= observed - tolerance).double().mean())
    g = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, (resamples, n), generator=g).double() * 2 - 1
    hits = int(((signs @ d / n).abs() >= observed - tolerance).sum())
    if hits == 0:
        return math.erfc(float(d.sum().abs() / (2 * (d ** 2).sum()).sqrt()))
    return (hits + 1) / (resamples + 1)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the k-th smallest p times (m − k + 1), made monotone, capped at 1."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p_values[i]))
        adjusted[i] = running
    return adjusted


def paired_difference(row: dict[int, torch.Tensor], other: dict[int, torch.Tensor], seed: int = 0) -> dict[str, float]:
    """Row − other on the same prompts: per seed where both have it, else against the other's seed
    mean. Inputs map seed → per-prompt vector (P,). Returns the interval of the mean difference and the
    unadjusted sign-flip p-value."""
    other_mean = torch.stack(list(other.values())).mean(0)
    diff = torch.stack([row[s] - other.get(s, other_mean) for s in sorted(row)])
    out = interval(diff, seed=seed)
    out["p"] = sign_flip_p(diff.mean(0).tolist(), seed=seed)
    return out


def rank_intervals(rows: Sequence[torch.Tensor], level: float = 0.95, seed: int = 0) -> list[tuple[int, int]]:
    """Each row's (best, worst) rank over bootstrap resamples (1 = highest mean); rows are S_i × P
    matrices over the same P prompts, which are resampled jointly."""
    P = rows[0].shape[1]
    g = torch.Generator().manual_seed(seed)
    prompts = torch.randint(0, P, (RESAMPLES, P), generator=g)
    means = torch.stack([bootstrap_means(m, prompts=prompts, seed=seed + i + 1) for i, m in enumerate(rows)], 1)
    ranks = (-means).argsort(1).argsort(1).double() + 1  # (R, rows)
    tail = (1 - level) / 2
    bounds = torch.quantile(ranks, torch.tensor([tail, 1 - tail], dtype=torch.float64), dim=0)
    return [(int(lo), int(hi)) for lo, hi in zip(bounds[0].round().tolist(), bounds[1].round().tolist())]
