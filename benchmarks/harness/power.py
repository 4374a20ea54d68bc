"""How much a ranked table can see: the smallest paired difference it detects, the seeds and prompts a
given difference needs, and a global test that every row is equal.

A paired difference D[s, p] between two rows (seeds s, held-out prompts p, the same prompts and
sampling seeds for both) is modelled as a two-way random-effects layout, D = μ + a_s + b_p + e_sp: a
training-seed effect (variance σ²_seed), a prompt effect shared by the seeds (σ²_prompt) and the rest
(σ²_residual). The mean of D over S seeds and P prompts then has variance
σ²_seed/S + σ²_prompt/P + σ²_residual/(S·P), and its minimum detectable difference at two-sided level
α and power 1 − β is (z_{1−α/2} + z_{1−β}) times that standard error (e.g. Lachin 1981). The
components are the method-of-moments estimates of the mean squares (clipped at 0); with one seed the
seed component cannot be estimated, and the estimates say so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

TARGET = 0.02
"""The difference every table says the cost of detecting (in the ranking metric's units)."""


def _z(p: float) -> float:
    return math.sqrt(2) * torch.erfinv(torch.tensor(2 * p - 1, dtype=torch.float64)).item()


@dataclass(frozen=True)
class VarianceComponents:
    """σ² of a paired difference's seed effect, prompt effect and residual, estimated at ``seeds`` ×
    ``prompts``; ``seed_estimated`` is False with one seed (the seed term is then taken as 0)."""

    seed: float
    prompt: float
    residual: float
    seeds: int
    prompts: int
    seed_estimated: bool

    def standard_error(self, seeds: int | None = None, prompts: int | None = None) -> float:
        s, p = seeds or self.seeds, prompts or self.prompts
        return math.sqrt(self.seed / s + self.prompt / p + self.residual / (s * p))

    def detectable(self, seeds: int | None = None, prompts: int | None = None, alpha: float = 0.05,
                   power: float = 0.8) -> float:
        """The smallest true difference found with probability ``power`` by a two-sided test at ``alpha``."""
        return (_z(1 - alpha / 2) + _z(power)) * self.standard_error(seeds, prompts)

    def seeds_for(self, difference: float, prompts: int | None = None, most: int = 1000) -> int | None:
        """The fewest seeds at ``prompts`` (default: as measured) that detect ``difference``; None beyond
        ``most`` or where the prompt term alone is too large."""
        return next((s for s in range(1, most + 1) if self.detectable(seeds=s, prompts=prompts) <= difference), None)

    def prompts_for(self, difference: float, seeds: int | None = None, most: int = 100_000) -> int | None:
        """The fewest prompts at ``seeds`` (default: as measured) that detect ``difference``, by doubling
        from the measured count down to the exact one; None beyond ``most`` or where the seed term alone
        is too large."""
        if self.detectable(seeds=seeds, prompts=most) > difference:
            return None
        low, high = 0, 1
        while self.detectable(seeds=seeds, prompts=high) > difference:
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if self.detectable(seeds=seeds, prompts=mid) > difference else (low, mid)
        return high


def variance_components(difference: torch.Tensor) -> VarianceComponents:
    """The components of a paired difference matrix (S seeds × P prompts)."""
    d = difference.double()
    S, P = d.shape
    grand = d.mean()
    seed_means, prompt_means = d.mean(1), d.mean(0)
    residual = d - seed_means[:, None] - prompt_means[None, :] + grand
    if S == 1:  # no replication over seeds: the prompt variance is all that can be seen
        return VarianceComponents(0.0, float(d.var()), 0.0, 1, P, False)
    ms_seed = P * float(((seed_means - grand) ** 2).sum()) / (S - 1)
    ms_prompt = S * float(((prompt_means - grand) ** 2).sum()) / (P - 1)
    ms_residual = float((residual ** 2).sum()) / ((S - 1) * (P - 1))
    return VarianceComponents(max(0.0, (ms_seed - ms_residual) / P), max(0.0, (ms_prompt - ms_residual) / S),
                              ms_residual, S, P, True)


@dataclass(frozen=True)
class GlobalTest:
    """The test that every row has the same mean: F = MS_rows / MS_rows×seeds on the rows' per-seed means
    over prompts (seeds as blocks, so training-seed noise is the yardstick), with its permutation p (row
    labels shuffled within each seed)."""

    statistic: float
    df_rows: int
    df_error: int
    p: float
    seeds: int
    rows: int
    resamples: int


def global_test(rows: Sequence[Mapping[int, torch.Tensor]], resamples: int = 9999, seed: int = 0) -> GlobalTest | None:
    """``rows``: each row's seed → per-prompt vector (P,), the same prompts for all. Uses the seeds every
    row has; None with fewer than two such seeds or two rows."""
    common = sorted(set.intersection(*(set(r) for r in rows))) if rows else []
    if len(rows) < 2 or len(common) < 2:
        return None
    y = torch.stack([torch.stack([r[s].double().mean() for s in common]) for r in rows])  # (K, S)
    K, S = y.shape

    def f_statistic(m: torch.Tensor) -> torch.Tensor:  # m: (..., K, S)
        row_means, seed_means, grand = m.mean(-1), m.mean(-2), m.mean((-1, -2))
        ms_rows = S * ((row_means - grand[..., None]) ** 2).sum(-1) / (K - 1)
        interaction = m - row_means[..., :, None] - seed_means[..., None, :] + grand[..., None, None]
        ms_error = (interaction ** 2).sum((-1, -2)) / ((K - 1) * (S - 1))
        return ms_rows / ms_error.clamp(min=1e-300)

    observed = f_statistic(y)
    g = torch.Generator().manual_seed(seed)
    order = torch.rand(resamples, S, K, generator=g).argsort(-1)  # a permutation of the rows per seed
    shuffled = y.T[torch.arange(S)[None, :, None], order].transpose(1, 2)  # (R, K, S)
    hits = int((f_statistic(shuffled) >= observed * (1 - 1e-12)).sum())
    return GlobalTest(float(observed), K - 1, (K - 1) * (S - 1), (hits + 1) / (resamples + 1), S, K, resamples)
