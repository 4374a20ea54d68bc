from dataclasses import dataclass

from prefzoo import param, register
from prefzoo.algorithms.grpo import GRPO, LOSS_TYPES


@register("vespo")
class VESPO(GRPO):
    """Variational Sequence-level Soft Policy Optimization (arXiv:2602.10693; Equation: its weight, written out
    here): no clipping; each response's update −sg(φ(w))·Â·log π_t is weighted by a Gamma-shaped function of its
    sequence importance weight w = Π_t ρ_t, φ(w) = e^λ·w^k·e^(−λw) (φ(1) = 1), which falls smoothly for w far
    from 1 on either side — asymmetrically: (k, λ) = (2, 3) for Â ≥ 0 and (3, 2) for Â < 0, the authors' values
    as TRL keeps them; the loss averaged over the batch's tokens; no KL term. On-policy (one optimiser step per
    rollout, w ≡ 1) its gradient is DAPO's. Shapes as ``grpo``."""

    paper = "VESPO 2026, arXiv:2602.10693"

    @dataclass(frozen=True)
    class Config(GRPO.Config):
        beta: float = param(0.0, ge=0, search=(0.001, 0.1, "log"))
        """β of the k3 KL term; 0."""
        loss_type: str = param("vespo", choices=LOSS_TYPES)
        """vespo: the Gamma-weighted sequence update."""
