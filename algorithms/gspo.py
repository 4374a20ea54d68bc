from dataclasses import dataclass

from prefzoo import param, register
from prefzoo.algorithms.grpo import GRPO


@register("gspo")
class GSPO(GRPO):
    """Group Sequence Policy Optimization (Zheng et al. 2025; Equation: its objective, written out here): GRPO
    with one importance ratio per response, s_i = (π(y_i|x)/π_old(y_i|x))^(1/|y_i|), clipped to [1 − ε_low, 1 +
    ε_high] and multiplying the response's group advantage: J = E[(1/G) Σ_i min(s_i·Â_i, clip(s_i)·Â_i)]. A
    token-level ratio weights each token by its own off-policyness although the reward is the sequence's; the
    sequence ratio does not. The paper's settings (v2, §5.1, as TRL's paper index reproduces them): ε_low =
    3·10⁻⁴, ε_high = 4·10⁻⁴ (a sequence ratio moves far less than a token's), no KL term. Shapes as ``grpo``."""

    paper = "Zheng et al. 2025, arXiv:2507.18071"

    @dataclass(frozen=True)
    class Config(GRPO.Config):
        beta: float = param(0.0, ge=0, search=(0.001, 0.1, "log"))
        """β of the k3 KL term; 0, as GSPO trains."""
        importance_sampling_level: str = param("sequence", choices=("token", "sequence"))
        """sequence: s_i, the geometric mean of the response's token ratios."""
        epsilon_low: float = param(3e-4, gt=0)
        """ε_low of the sequence ratio (§5.1)."""
        epsilon_high: float = param(4e-4)
        """ε_high of the sequence ratio (§5.1)."""
