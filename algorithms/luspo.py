from dataclasses import dataclass

from prefzoo import param, register
from prefzoo.algorithms.grpo import GRPO, LOSS_TYPES


@register("luspo")
class LUSPO(GRPO):
    """Length-Unbiased Sequence Policy Optimization (Liu et al. 2026; Equation: its objective, GSPO's, each
    response's term times |o_i|): GSPO's clipped sequence ratio, with each response's loss multiplied by its
    length |o_i| (its tokens summed, not averaged), so that GSPO's per-response average no longer favours short
    responses with positive advantage. GSPO's clip range (ε_low = 3·10⁻⁴, ε_high = 4·10⁻⁴), the method it
    modifies, and no KL term. Shapes as ``grpo``."""

    paper = "Liu et al. 2026, arXiv:2602.05261"

    @dataclass(frozen=True)
    class Config(GRPO.Config):
        beta: float = param(0.0, ge=0, search=(0.001, 0.1, "log"))
        """β of the k3 KL term; 0."""
        loss_type: str = param("luspo", choices=LOSS_TYPES)
        """luspo: the sequence loss times the response's length."""
        importance_sampling_level: str = param("sequence", choices=("token", "sequence"))
        """sequence: GSPO's ratio."""
        epsilon_low: float = param(3e-4, gt=0)
        """ε_low of the sequence ratio (GSPO's)."""
        epsilon_high: float = param(4e-4)
        """ε_high of the sequence ratio (GSPO's)."""
