from dataclasses import dataclass

import torch
from torch import Tensor

from prefzoo import AlgorithmConfig, param, register
from prefzoo.algorithms.bt import BradleyTerry


@register("ids")
class IterativeDataSmoothing(BradleyTerry):
    """Iterative Data Smoothing (Zhu, Jordan & Jiao 2024, Algorithm 1).

    Each epoch: a gradient pass with step size α on the soft-label cross-entropy
    −[ŷ·log σ(r(a) − r(a')) + (1 − ŷ)·log σ(r(a') − r(a))] (the Bradley–Terry loss, Ouyang et al. 2022
    Eq. 1, with labels ŷ),
    then every label moves toward the model's prediction: ŷ ← (1 − β)·ŷ + β·σ(r(a) − r(a')).
    Rarely compared pairs thus lose their pull before their rewards run to ±∞. Rewards and labels
    share one shape, ``(batch,)`` in the LM loop, ``(seeds, pairs)`` in the bandit.
    """

    paper = "Zhu, Jordan & Jiao 2024, arXiv:2401.16335"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        alpha: float = param(1e-3, gt=0)
        """α, the reward model's step size (the loop's learning rate)."""
        beta: float = param(0.3, gt=0, le=1)
        """β, the label step size of ŷ ← (1 − β)·ŷ + β·σ(r(a) − r(a'))."""

    def update_labels(self, labels: Tensor, reward_chosen: Tensor, reward_rejected: Tensor) -> Tensor:
        beta = self.config.beta
        return (1 - beta) * labels + beta * torch.sigmoid(reward_chosen - reward_rejected).to(labels.dtype)
