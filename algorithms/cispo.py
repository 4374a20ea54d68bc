from dataclasses import dataclass

from prefzoo import param, register
from prefzoo.algorithms.grpo import GRPO, LOSS_TYPES


@register("cispo")
class CISPO(GRPO):
    """Clipped IS-weight Policy Optimization (MiniMax 2025, the MiniMax-M1 report; Equation: its objective,
    written out here): the importance weight is clipped and detached, the update is not — J = E[(1/Σ|o_i|) Σ_i
    Σ_t sg(r̂_{i,t})·Â_i·log π(o_{i,t})], r̂ = min(ρ_t, ε_max) — so every token keeps a gradient, where PPO-
    style clipping zeroes those outside the band. With ScaleRL's settings (Khatri et al. 2025, arXiv:2510.13786,
    as TRL's paper index gives them): ε_max = 5, advantages scaled by the batch's standard deviation; no KL
    term. Shapes as ``grpo``."""

    paper = "MiniMax 2025, arXiv:2506.13585"

    @dataclass(frozen=True)
    class Config(GRPO.Config):
        beta: float = param(0.0, ge=0, search=(0.001, 0.1, "log"))
        """β of the k3 KL term; 0."""
        loss_type: str = param("cispo", choices=LOSS_TYPES)
        """cispo: the clipped, detached weight on log π."""
        epsilon_high: float = param(5.0)
        """ε_max, the cap of the importance weight (ScaleRL's 5)."""
        scale_rewards: str = param("batch", choices=("auto", "group", "batch", "none"))
        """batch: advantages over the batch's standard deviation (ScaleRL)."""
