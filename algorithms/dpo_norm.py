from dataclasses import dataclass

import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("dpo-norm")
class LengthNormalisedDPO(Pairwise):
    """DPO on per-token log-ratios (Rafailov et al. 2023, Eq. 7, with each response's log-ratio divided by
    its length |y|, as TRL's ``sigmoid_norm``).

    loss = −log σ(β·(log π/π_ref (y_w) / |y_w| − log π/π_ref (y_l) / |y_l|)): the length-normalised
    variant that takes away DPO's incentive to lengthen the chosen response. Inputs and losses share
    the shape of ``PairLogps``.
    """

    paper = "Rafailov et al. 2023, arXiv:2305.18290 (length-normalised, TRL sigmoid_norm)"
    uses_lengths = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the scale of the per-token implicit reward."""

    def implicit_reward(self, logp, ref_logp, tokens):
        return (logp - ref_logp) / tokens

    def loss(self, b: PairLogps) -> LossOutput:
        margin = b.chosen_logratio / b.chosen_tokens - b.rejected_logratio / b.rejected_tokens
        return LossOutput(-F.logsigmoid(self.config.beta * margin), {"margin": margin})
