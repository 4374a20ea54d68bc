"""Reward learning on a K-armed Bradley–Terry bandit with long-tailed comparisons (Zhu, Jordan & Jiao
2024, §3 and §5.1): where maximum likelihood overfits and Iterative Data Smoothing does not.

Arms have true rewards r*_k evenly spaced in [−1.5, 1.5]. Each seed draws ``comparisons`` pairs whose
arms follow a Zipf law, p_k ∝ (k + 1)^(−zipf), so the first arms are compared often and the last few
once or twice, and labels the first arm preferred with probability σ(r*_i − r*_j). A tabular reward
r ∈ R^K starts at 0; each epoch is one full-batch gradient step with step size α on the summed
loss, then the algorithm's label update (IDS moves labels toward its predictions; MLE keeps them).
Seeds are one tensor axis.

Error is measured after removing the mean (rewards are identified only up to a constant), on every
arm and on the rare arms (compared at most ``rare_max`` times in that seed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from prefzoo.algorithms.base import RewardLearning
from prefzoo.algorithms.config import AlgorithmConfig


@dataclass(frozen=True)
class RewardBanditSettings:
    arms: int = 10
    comparisons: int = 60
    zipf: float = 2.0
    """Exponent of the Zipf law the compared arms follow."""
    epochs: int = 5_000
    alpha: float = 0.05
    """Step size α of the full-batch gradient step on the summed loss (stable for the most compared arm);
    it replaces every learner's ``alpha``, whose default is sized for AdamW on an adapter."""
    strengths: tuple[float, ...] = (0.3, 0.03, 0.003)
    """Values of a learner's strength field (IDS: the label step size β)."""
    rare_max: int = 3
    seeds: int = 10
    checkpoints: tuple[int, ...] = (10, 100, 1_000, 5_000)
    base_seed: int = 0
    first_seed: int = 0
    """The number of the first seed (seeds run from it on); seed s draws the same numbers in any run, so
    it is not part of the settings' hash."""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        del d["first_seed"]
        d["checkpoints"] = list(self.checkpoints)
        d["strengths"] = list(self.strengths)
        return d

    def true_rewards(self) -> torch.Tensor:
        return torch.linspace(-1.5, 1.5, self.arms, dtype=torch.float64)


def comparisons(settings: RewardBanditSettings) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(first, second, first_preferred), each ``(seeds, comparisons)``: Zipf-distributed distinct arms
    and Bradley–Terry labels on the true rewards, one generator per seed."""
    p = (torch.arange(settings.arms, dtype=torch.float64) + 1) ** -settings.zipf
    r = settings.true_rewards()
    out = []
    for s in range(settings.seeds):
        g = torch.Generator().manual_seed(hash((settings.base_seed, settings.first_seed + s)) & 0x7FFF_FFFF)
        pairs = torch.stack([torch.multinomial(p, 2, replacement=False, generator=g)
                             for _ in range(settings.comparisons)])
        labels = torch.rand(settings.comparisons, generator=g, dtype=torch.float64) < torch.sigmoid(
            r[pairs[:, 0]] - r[pairs[:, 1]])
        out.append((pairs[:, 0], pairs[:, 1], labels))
    return tuple(torch.stack(x) for x in zip(*out))


@dataclass
class RewardBanditRun:
    """One (algorithm, config): centred reward error against the truth at each checkpoint epoch,
    ``(checkpoints, seeds)``, on every arm and on the rare arms; the final rewards ``(seeds, K)``."""

    algorithm: type[RewardLearning]
    config: AlgorithmConfig
    epochs: list[int]
    error_all: torch.Tensor
    error_rare: torch.Tensor
    rewards: torch.Tensor
    counts: torch.Tensor
    """Comparisons per arm, ``(seeds, K)``."""


def _centred_rmse(r: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    d = (r - r.mean(-1, keepdim=True)) - (truth - truth.mean())
    return ((d ** 2 * mask).sum(-1) / mask.sum(-1).clamp(min=1)).sqrt()


def run_reward_bandit(cls: type[RewardLearning], config: AlgorithmConfig | None = None,
                      settings: RewardBanditSettings = RewardBanditSettings()) -> RewardBanditRun:
    # The bandit's step size is the suite's setting (plain gradient descent on every learner alike).
    algorithm = cls(config or cls.Config())
    first, second, preferred = comparisons(settings)
    # Every comparison as (chosen, rejected) with label 1: the hard label says which won.
    chosen, rejected = torch.where(preferred, first, second), torch.where(preferred, second, first)
    labels = torch.ones(chosen.shape, dtype=torch.float64)
    S, K = settings.seeds, settings.arms
    counts = torch.zeros(S, K, dtype=torch.float64)
    counts.scatter_add_(1, first, torch.ones_like(labels)).scatter_add_(1, second, torch.ones_like(labels))
    rare = (counts <= settings.rare_max) & (counts > 0)
    truth = settings.true_rewards()
    r = torch.zeros(S, K, dtype=torch.float64, requires_grad=True)
    errors_all, errors_rare = [], []
    for epoch in range(1, settings.epochs + 1):
        loss = algorithm.loss(r.gather(1, chosen), r.gather(1, rejected), labels).losses.sum()
        (grad,) = torch.autograd.grad(loss, r)
        with torch.no_grad():
            r -= settings.alpha * grad
            labels = algorithm.update_labels(labels, r.gather(1, chosen), r.gather(1, rejected))
        if epoch in settings.checkpoints:
            errors_all.append(_centred_rmse(r.detach(), truth, torch.ones_like(rare, dtype=torch.float64)))
            errors_rare.append(_centred_rmse(r.detach(), truth, rare.double()))
    return RewardBanditRun(cls, algorithm.config, [e for e in settings.checkpoints if e <= settings.epochs],
                           torch.stack(errors_all), torch.stack(errors_rare), r.detach(), counts)
