from dataclasses import dataclass

import torch
import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("discopop")
class DiscoPOP(Pairwise):
    """DiscoPOP, the log-ratio modulated loss discovered by LLM-driven search (Chris Lu et al. 2024, Eq. 5).

    With z = β·h (h the DPO log-ratio margin) and the mixing weight w = σ(z/τ):
    loss = (1 − w)·(−log σ(z)) + w·exp(−z), a blend of the logistic (DPO) and exponential losses
    that leans exponential as the margin grows. TRL's ``discopop``. Inputs and losses share the shape
    of ``PairLogps``.
    """

    paper = "Chris Lu et al. 2024, arXiv:2406.08414"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.05, gt=0)
        """β, the scale of the margin (the paper's 0.05)."""
        tau: float = param(0.05, gt=0)
        """τ, the temperature of the mixing weight σ(z/τ) (the paper's and TRL's 0.05)."""

    def loss(self, b: PairLogps) -> LossOutput:
        margin = b.logratio_margin
        z = self.config.beta * margin
        w = torch.sigmoid(z / self.config.tau)
        return LossOutput((1 - w) * -F.logsigmoid(z) + w * torch.exp(-z), {"margin": margin})
