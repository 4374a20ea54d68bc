from dataclasses import dataclass

import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("cdpo")
class ConservativeDPO(Pairwise):
    """Conservative DPO (Mitchell 2023, "A note on DPO with noisy preferences"): DPO's Eq. 7 with label smoothing.

    loss = −(1−ε)·log σ(β·h) − ε·log σ(−β·h): the cross-entropy against a label that says y_w ≻ y_l
    with probability 1−ε. Its minimiser is finite (σ(β·h) = 1−ε), unlike DPO's. Inputs and losses
    share the shape of ``PairLogps``.
    """

    paper = "Mitchell 2023, cDPO note (ericmitchell.ai/cdpo.pdf)"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the strength of the KL constraint to π_ref (DPO Eq. 7)."""
        epsilon: float = param(0.1, ge=0, lt=0.5)
        """ε, the assumed probability that a label is flipped (label smoothing)."""

    def loss(self, b: PairLogps) -> LossOutput:
        margin = b.logratio_margin
        eps = self.config.epsilon
        losses = -(1 - eps) * F.logsigmoid(self.config.beta * margin) - eps * F.logsigmoid(-self.config.beta * margin)
        return LossOutput(losses, {"margin": margin})
