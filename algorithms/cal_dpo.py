from dataclasses import dataclass

import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("cal-dpo")
class CalDPO(Pairwise):
    """Calibrated DPO (Xiao et al. 2024, Eq. 9): a contrastive term plus a calibration of each implicit
    reward onto the scale of the true reward.

    With h = log π/π_ref: loss = −log σ(h_w − h_l) + ½[(h_w − 1/(2β))² + (h_l + 1/(2β))²]. The squared
    terms pin the chosen log-ratio up and the rejected one down, so the chosen likelihood cannot fall
    while the margin grows (the authors' code weights the calibration ½, with the batch mean of each
    square; the per-pair form here has the same mean). Inputs and losses share the shape of
    ``PairLogps``.
    """

    paper = "Xiao et al. 2024, arXiv:2412.14516"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β: the calibration targets are ±1/(2β) (the reward scale of the KL-regularised optimum)."""

    def loss(self, b: PairLogps) -> LossOutput:
        hw, hl = b.chosen_logratio, b.rejected_logratio
        target = 0.5 / self.config.beta
        losses = -F.logsigmoid(hw - hl) + 0.5 * ((hw - target) ** 2 + (hl + target) ** 2)
        return LossOutput(losses, {"margin": hw - hl})
