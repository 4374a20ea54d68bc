from dataclasses import dataclass
from typing import Literal

import torch

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("apo")
class APO(Pairwise):
    """Anchored Preference Optimization (D'Oosterlinck et al. 2024, Eq. 7 and Eq. 8).

    With r = β·log π/π_ref: ``zero`` (Eq. 7, for chosen responses better than the model's own):
    loss = 1 − σ(r_w) + σ(r_l), raising the chosen likelihood and lowering the rejected one;
    ``down`` (Eq. 8, for chosen responses worse than the model's own): loss = σ(r_w) + 1 − σ(r_w − r_l),
    lowering both, the rejected more. TRL's ``apo_zero`` and ``apo_down``. Inputs and losses share the
    shape of ``PairLogps``.
    """

    paper = "D'Oosterlinck et al. 2024, arXiv:2408.06266"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the scale of the implicit reward r = β·log π/π_ref."""
        anchor: Literal["zero", "down"] = param("zero", choices=("zero", "down"))
        """Which anchoring: ``zero`` (Eq. 7) or ``down`` (Eq. 8)."""

    def loss(self, b: PairLogps) -> LossOutput:
        rw, rl = self.config.beta * b.chosen_logratio, self.config.beta * b.rejected_logratio
        if self.config.anchor == "zero":
            losses = 1 - torch.sigmoid(rw) + torch.sigmoid(rl)
        else:
            losses = torch.sigmoid(rw) + 1 - torch.sigmoid(rw - rl)
        return LossOutput(losses, {"margin": b.logratio_margin})
