from dataclasses import dataclass

from prefzoo import param, register
from prefzoo.algorithms.grpo import GRPO, LOSS_TYPES


@register("sapo")
class SAPO(GRPO):
    """Soft Adaptive Policy Optimization (Gao et al. 2025; Equation: its gate, written out here): the hard clip
    replaced by a smooth gate, per token −(4/τ)·σ(τ(ρ_t − 1))·Â, whose gradient is the plain policy gradient at
    ρ = 1 and fades as ρ leaves it, faster for negative advantages (τ_neg = 1.05 > τ_pos = 1, the paper's
    values); each response's tokens averaged, then responses; no KL term. On-policy (one optimiser step per
    rollout, ρ ≡ 1) its gradient is GSPO's. Shapes as ``grpo``."""

    paper = "Gao et al. 2025, arXiv:2511.20347"

    @dataclass(frozen=True)
    class Config(GRPO.Config):
        beta: float = param(0.0, ge=0, search=(0.001, 0.1, "log"))
        """β of the k3 KL term; 0."""
        loss_type: str = param("sapo", choices=LOSS_TYPES)
        """sapo: the soft gate."""
