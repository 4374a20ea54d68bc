from dataclasses import dataclass

import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("simpo")
class SimPO(Pairwise):
    """Simple Preference Optimization (Meng, Xia, Chen 2024, Eq. 6): reference-free, length-normalised.

    loss = −log σ(β/|y_w|·log π(y_w) − β/|y_l|·log π(y_l) − γ). No reference forward is run. Inputs and
    losses share the shape of ``PairLogps``.
    """

    paper = "Meng et al. 2024, arXiv:2405.14734"
    uses_reference = False
    uses_lengths = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(2.0, gt=0)
        """β, the scale of the length-normalised reward (Eq. 4); the paper uses 2.0–2.5."""
        gamma: float = param(1.0, ge=0)
        """γ, the target reward margin (Eq. 5); the paper keeps γ/β near 0.5."""

    def implicit_reward(self, logp, ref_logp, tokens):
        return logp / tokens

    def loss(self, b: PairLogps) -> LossOutput:
        margin = b.policy_chosen / b.chosen_tokens - b.policy_rejected / b.rejected_tokens
        return LossOutput(-F.logsigmoid(self.config.beta * margin - self.config.gamma), {"margin": margin})
