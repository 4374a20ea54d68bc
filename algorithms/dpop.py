from dataclasses import dataclass

import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("dpop")
class DPOPositive(Pairwise):
    """DPO-Positive, "Smaug" (Pal et al. 2024, Eq. 3): DPO with a penalty whenever the chosen response's
    likelihood falls below the reference's.

    loss = −log σ(β·(h − λ·max(0, log π_ref(y_w) − log π(y_w)))), h the DPO log-ratio margin. DPO can
    lower both likelihoods as long as the margin grows; the penalty makes that costly. λ = 0 is DPO.
    Inputs and losses share the shape of ``PairLogps``.
    """

    paper = "Pal et al. 2024, arXiv:2402.13228"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the strength of the KL constraint to π_ref (as in DPO)."""
        lambda_: float = param(50.0, ge=0)
        """λ, the weight of the penalty on a falling chosen likelihood (the paper uses 50)."""

    def loss(self, b: PairLogps) -> LossOutput:
        penalty = (-b.chosen_logratio).clamp(min=0)
        margin = b.logratio_margin
        losses = -F.logsigmoid(self.config.beta * (margin - self.config.lambda_ * penalty))
        return LossOutput(losses, {"margin": margin, "penalty": penalty})
