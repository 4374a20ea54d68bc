from dataclasses import dataclass

import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("robust-dpo")
class RobustDPO(Pairwise):
    """Provably robust DPO (Chowdhury, Kini, Natarajan 2024, Eq. 8 with the DPO loss).

    loss = [(1−ε)·ℓ(β·h) − ε·ℓ(−β·h)] / (1−2ε), ℓ(z) = −log σ(z): an unbiased estimate of the clean
    DPO loss when each label is flipped with probability ε. Unlike cDPO it can be negative. Inputs and
    losses share the shape of ``PairLogps``.
    """

    paper = "Chowdhury et al. 2024, arXiv:2403.00409"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the strength of the KL constraint to π_ref."""
        epsilon: float = param(0.1, ge=0, lt=0.5)
        """ε, the label flip rate the loss is unbiased under (Eq. 8); 0 gives DPO."""

    def loss(self, b: PairLogps) -> LossOutput:
        margin = b.logratio_margin
        eps = self.config.epsilon
        clean = -F.logsigmoid(self.config.beta * margin)
        flipped = -F.logsigmoid(-self.config.beta * margin)
        return LossOutput(((1 - eps) * clean - eps * flipped) / (1 - 2 * eps), {"margin": margin})
