from dataclasses import dataclass

import math

import torch
import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("exo")
class EXO(Pairwise):
    """Efficient Exact Optimization, pairwise form (Ji et al. 2024, Eq. 16 with K = 2).

    With q = softmax(β·[log π/π_ref (y_w), log π/π_ref (y_l)]) and the label distribution
    p = [1 − ε, ε]: loss = KL(q ‖ p) = q_w (log q_w − log(1−ε)) + q_l (log q_l − log ε), i.e. with
    z = β·h, σ(z)(log σ(z) − log(1−ε)) + σ(−z)(log σ(−z) − log ε). It minimises the reverse KL to the
    optimal policy (mode-seeking), where DPO minimises the forward one. TRL's ``exo_pair``. Inputs and
    losses share the shape of ``PairLogps``.
    """

    paper = "Ji et al. 2024, arXiv:2402.00856"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β_π, the scale of the policy's log-ratios in q (Eq. 16)."""
        epsilon: float = param(1e-3, gt=0, lt=0.5)
        """ε, the label smoothing that keeps log p finite (the paper's default 1e-3)."""

    def loss(self, b: PairLogps) -> LossOutput:
        margin = b.logratio_margin
        z = self.config.beta * margin
        eps = self.config.epsilon
        losses = (torch.sigmoid(z) * (F.logsigmoid(z) - math.log1p(-eps))
                  + torch.sigmoid(-z) * (F.logsigmoid(-z) - math.log(eps)))
        return LossOutput(losses, {"margin": margin})
