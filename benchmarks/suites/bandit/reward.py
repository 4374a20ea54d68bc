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

from prefzoo.algorithms.framework.base import RewardLearning
from prefzoo.algorithms.framework.config import AlgorithmConfig


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
    label_fraction: float = 1.0
    """The share of each seed's comparisons whose labels the learner sees (the label budget); a
    semi-supervised learner (SER) also sees the rest without labels."""
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
    ``(checkpoints, seeds)``, on every arm and on the rare arms; the final rewards ``(seeds, K)``. A
    self-labelling learner also records, per seed, the rounds it kept and the pairs it self-labelled."""

    algorithm: type[RewardLearning]
    config: AlgorithmConfig
    epochs: list[int]
    error_all: torch.Tensor
    error_rare: torch.Tensor
    rewards: torch.Tensor
    counts: torch.Tensor
    """Comparisons per arm, ``(seeds, K)``, labelled or not."""
    labelled: int = 0
    """Labelled comparisons per seed (the label budget)."""
    self_labelled: torch.Tensor | None = None
    """Self-labelled pairs the kept model trained on, ``(seeds,)``."""
    rounds: torch.Tensor | None = None
    """Self-labelling rounds of the kept model, ``(seeds,)`` (0: the seed model)."""


def _centred_rmse(r: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    d = (r - r.mean(-1, keepdim=True)) - (truth - truth.mean())
    return ((d ** 2 * mask).sum(-1) / mask.sum(-1).clamp(min=1)).sqrt()


def _fit(algorithm: RewardLearning, chosen, rejected, mask, settings: RewardBanditSettings, rare):
    """``settings.epochs`` full-batch steps from r = 0 on the comparisons ``mask`` selects (all
    ``(seeds, comparisons)``): the rewards and the errors at each checkpoint."""
    truth = settings.true_rewards()
    labels = torch.ones(chosen.shape, dtype=torch.float64)
    r = torch.zeros(settings.seeds, settings.arms, dtype=torch.float64, requires_grad=True)
    errors_all, errors_rare = [], []
    for epoch in range(1, settings.epochs + 1):
        loss = (algorithm.loss(r.gather(1, chosen), r.gather(1, rejected), labels).losses * mask).sum()
        (grad,) = torch.autograd.grad(loss, r)
        with torch.no_grad():
            r -= settings.alpha * grad
            labels = algorithm.update_labels(labels, r.gather(1, chosen), r.gather(1, rejected))
        if epoch in settings.checkpoints:
            errors_all.append(_centred_rmse(r.detach(), truth, torch.ones_like(rare, dtype=torch.float64)))
            errors_rare.append(_centred_rmse(r.detach(), truth, rare.double()))
    return r.detach(), torch.stack(errors_all), torch.stack(errors_rare)


def run_reward_bandit(cls: type[RewardLearning], config: AlgorithmConfig | None = None,
                      settings: RewardBanditSettings = RewardBanditSettings()) -> RewardBanditRun:
    """The learner on each seed's labelled comparisons (the first ``label_fraction`` of them; the
    comparisons are drawn independently, so these are a random share); a learner that
    ``uses_unlabelled`` also gets the rest without their labels (:func:`_self_evolve`)."""
    # The bandit's step size is the suite's setting (plain gradient descent on every learner alike).
    algorithm = cls(config or cls.Config())
    first, second, preferred = comparisons(settings)
    # Every comparison as (chosen, rejected) with label 1: the hard label says which won.
    chosen, rejected = torch.where(preferred, first, second), torch.where(preferred, second, first)
    S, K, C = settings.seeds, settings.arms, settings.comparisons
    counts = torch.zeros(S, K, dtype=torch.float64)
    ones = torch.ones(S, C, dtype=torch.float64)
    counts.scatter_add_(1, first, ones).scatter_add_(1, second, ones)
    rare = (counts <= settings.rare_max) & (counts > 0)
    labelled = max(1, round(settings.label_fraction * C))
    mask = (torch.arange(C) < labelled).double().expand(S, C)
    epochs = [e for e in settings.checkpoints if e <= settings.epochs]
    if algorithm.uses_unlabelled:
        return _self_evolve(algorithm, first, second, chosen, rejected, labelled, settings, rare, counts, epochs)
    r, errors_all, errors_rare = _fit(algorithm, chosen, rejected, mask, settings, rare)
    return RewardBanditRun(cls, algorithm.config, epochs, errors_all, errors_rare, r, counts, labelled)


def _accuracy(r: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per seed, the share of the masked comparisons r orders as labelled (a tie counts one half)."""
    margin = r.gather(1, chosen) - r.gather(1, rejected)
    right = (margin > 0).double() + 0.5 * (margin == 0).double()
    return (right * mask).sum(1) / mask.sum(1).clamp(min=1)


def _self_evolve(algorithm, first, second, chosen, rejected, labelled: int, settings, rare, counts, epochs):
    """SER's rounds (``SelfEvolvedReward``), every seed at once with its own status and stop. The
    labelled comparisons split into training and validation (the last ``validation_fraction``); the
    unlabelled ones are presented as (first, second) as drawn, their labels unused."""
    S, C = first.shape
    config = algorithm.config
    valid = algorithm.validation_size(labelled)
    index = torch.arange(C)
    train_mask = (index < labelled - valid).double().expand(S, C)
    valid_mask = ((index >= labelled - valid) & (index < labelled)).double().expand(S, C)
    first_u, second_u = first[:, labelled:], second[:, labelled:]
    r, err_all, err_rare = _fit(algorithm, chosen, rejected, train_mask, settings, rare)
    best_r, best_all, best_rare = r.clone(), err_all.clone(), err_rare.clone()
    best_accuracy = _accuracy(r, chosen, rejected, valid_mask)
    kept_pairs, kept_rounds = torch.zeros(S), torch.zeros(S, dtype=torch.long)
    status = torch.ones(S, 1, dtype=torch.long)
    active = torch.ones(S, dtype=torch.bool)
    last_keep = last_first = torch.zeros(first_u.shape, dtype=torch.bool)
    for round_ in range(1, config.rounds + 1):
        p_first, p_second = torch.sigmoid(r.gather(1, first_u)), torch.sigmoid(r.gather(1, second_u))
        keep, first_won, status, new = algorithm.round_selection(p_first, p_second, status, last_keep, last_first)
        active &= new
        if not active.any():
            break
        last_keep, last_first = keep, first_won
        # The kept withheld comparisons, labelled as the model says; the others stay out of the loss.
        new_chosen = torch.cat([chosen[:, :labelled], torch.where(first_won, first_u, second_u)], 1)
        new_rejected = torch.cat([rejected[:, :labelled], torch.where(first_won, second_u, first_u)], 1)
        mask = torch.cat([train_mask[:, :labelled], keep.double()], 1)
        r_new, all_new, rare_new = _fit(algorithm, new_chosen, new_rejected, mask, settings, rare)
        accuracy = _accuracy(r_new, chosen, rejected, valid_mask)
        active &= algorithm.improved(accuracy, best_accuracy)
        best_r[active], best_accuracy[active] = r_new[active], accuracy[active]
        best_all[:, active], best_rare[:, active] = all_new[:, active], rare_new[:, active]
        kept_pairs[active], kept_rounds[active] = keep[active].sum(1).float(), round_
        r = best_r
        if not active.any():
            break
    return RewardBanditRun(type(algorithm), config, epochs, best_all, best_rare, best_r, counts, labelled,
                           kept_pairs, kept_rounds)
