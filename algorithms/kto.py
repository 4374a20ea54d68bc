from dataclasses import dataclass

import torch

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, UnpairedLogps, param, register


@register("kto")
class KTO(Pairwise):
    """Kahneman–Tversky Optimization (Ethayarajh et al. 2024, Eq. 7–8 and §4.1): each response is a gain
    or a loss relative to a reference point z₀, with the implicit reward r = log π(y|x)/π_ref(y|x).

    loss(y) = λ_D·(1 − σ(β·(r − z₀)))  for a desirable y,   λ_U·(1 − σ(β·(z₀ − r)))  for an undesirable y,
    z₀ = max(0, mean of r(x, y') over the batch), y' the response of another row (mismatched pairs,
    TRL's rotation by one), without gradient — TRL 1.16's ``KTOTrainer`` (``loss_type="kto"``).

    On unpaired data (``unpaired_loss``) every row is one term, ``(batch,)``. On pairs the chosen response
    is desirable and the rejected one undesirable, and a pair's loss is the mean of its two terms, so the
    batch mean equals TRL's mean over the 2B unpaired rows a paired dataset becomes. The paper advises
    λ_D·n_D / (λ_U·n_U) ∈ [1, 4/3] for n_D desirable and n_U undesirable examples (§4.1).
    """

    paper = "Ethayarajh et al. 2024, arXiv:2402.01306"
    uses_kl_estimate = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the risk aversion of the value function (Eq. 8)."""
        desirable_weight: float = param(1.0, gt=0)
        """λ_D, the weight of a desirable response's loss."""
        undesirable_weight: float = param(1.0, gt=0)
        """λ_U, the weight of an undesirable response's loss (loss aversion when λ_U > λ_D)."""

    @staticmethod
    def reference_point(kl_logratio: torch.Tensor) -> torch.Tensor:
        """z₀: the batch's estimate of KL(π ‖ π_ref), clamped at 0, without gradient; ``(..., 1)``."""
        return kl_logratio.detach().mean(-1, keepdim=True).clamp(min=0)

    def _gain(self, r: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        return self.config.desirable_weight * (1 - torch.sigmoid(self.config.beta * (r - z0)))

    def _loss(self, r: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        return self.config.undesirable_weight * (1 - torch.sigmoid(self.config.beta * (z0 - r)))

    def loss(self, b: PairLogps) -> LossOutput:
        z0 = self.reference_point(b.kl_logratio)
        desirable, undesirable = self._gain(b.chosen_logratio, z0), self._loss(b.rejected_logratio, z0)
        return LossOutput((desirable + undesirable) / 2,
                          {"margin": b.logratio_margin, "kl": z0.expand_as(desirable)})

    def unpaired_loss(self, b: UnpairedLogps) -> LossOutput:
        if b.kl_logratio is None:
            raise ValueError("kto needs mismatched-response log-ratios (kl_logratio)")
        z0 = self.reference_point(b.kl_logratio)
        r = b.logratio
        losses = torch.where(b.desirable, self._gain(r, z0), self._loss(r, z0))
        return LossOutput(losses, {"logratio": r, "kl": z0.expand_as(r)})
