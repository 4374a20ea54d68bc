from dataclasses import dataclass

import torch
import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("aot")
class AOT(Pairwise):
    """Alignment via Optimal Transport (Melnyk et al. 2024, Eq. 7 paired, Eq. 6 unpaired): distributional
    preference alignment by first-order stochastic dominance, made a one-dimensional optimal-transport
    problem by sorting over the batch.

    Paired: u = sort(log π(y_w) − log π(y_l)) and v = sort(log π_ref(y_w) − log π_ref(y_l)) over the
    batch, δ = u − v. Unpaired: δ = sort(log π/π_ref (y_w)) − sort(log π/π_ref (y_l)). Then
    loss_i = −(1−ε)·log σ(β·δ_i) − ε·log σ(−β·δ_i). Sorting runs over the last axis (the batch of pairs;
    in the bandit suite, a seed's mini-batch), so the loss of one position depends on the whole batch.
    TRL's ``aot`` and ``aot_unpaired``. Inputs and losses share the shape of ``PairLogps``.
    """

    paper = "Melnyk et al. 2024, arXiv:2406.05882"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the scale of the sorted margins."""
        unpaired: bool = False
        """Compare the sorted chosen and rejected log-ratios (Eq. 6) instead of the sorted pairwise margins."""
        label_smoothing: float = param(0.0, ge=0, lt=0.5)
        """ε, the weight of the reversed logistic term."""

    def loss(self, b: PairLogps) -> LossOutput:
        if self.config.unpaired:
            delta = torch.sort(b.chosen_logratio, dim=-1).values - torch.sort(b.rejected_logratio, dim=-1).values
        else:
            delta = (torch.sort(b.policy_chosen - b.policy_rejected, dim=-1).values
                     - torch.sort(b.ref_chosen - b.ref_rejected, dim=-1).values)
        z, eps = self.config.beta * delta, self.config.label_smoothing
        return LossOutput(-(1 - eps) * F.logsigmoid(z) - eps * F.logsigmoid(-z), {"margin": b.logratio_margin})
