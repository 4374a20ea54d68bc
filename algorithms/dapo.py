from dataclasses import dataclass

from prefzoo import param, register
from prefzoo.algorithms.grpo import GRPO, LOSS_TYPES


@register("dapo")
class DAPO(GRPO):
    """Decoupled Clip and Dynamic sAmpling Policy Optimization (Yu et al. 2025, Eq. 8): GRPO with the loss
    averaged over every token of the batch (so a long response is not down-weighted), clip-higher (ε_low = 0.2,
    ε_high = 0.28, §3.1) and no KL term (§2.3). Its dynamic sampling (re-drawing groups whose rewards are all
    equal) and overlong reward shaping are not part of this row: a learned reward model rarely gives a group
    equal scores, and the suites' responses are capped, not scored for length. Shapes as ``grpo``."""

    paper = "Yu et al. 2025, arXiv:2503.14476"

    @dataclass(frozen=True)
    class Config(GRPO.Config):
        beta: float = param(0.0, ge=0, search=(0.001, 0.1, "log"))
        """β of the k3 KL term; 0, as DAPO removes it (§2.3)."""
        loss_type: str = param("dapo", choices=LOSS_TYPES)
        """dapo: the token-level loss (Eq. 8)."""
