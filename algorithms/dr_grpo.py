from dataclasses import dataclass

from prefzoo import param, register
from prefzoo.algorithms.grpo import GRPO, LOSS_TYPES


@register("dr-grpo")
class DrGRPO(GRPO):
    """Dr. GRPO, "GRPO done right" (Liu et al. 2025, Eq. 3): GRPO without its two biases — each response's token
    losses summed and divided by the constant generation cap instead of the response's own length (the length
    bias), and advantages not divided by the group's standard deviation (the question-difficulty bias); no KL
    term, as the authors' runs (TRL's paper index). Shapes as ``grpo``."""

    paper = "Liu et al. 2025, arXiv:2503.20783"

    @dataclass(frozen=True)
    class Config(GRPO.Config):
        beta: float = param(0.0, ge=0, search=(0.001, 0.1, "log"))
        """β of the k3 KL term; 0, as the authors train."""
        loss_type: str = param("dr_grpo", choices=LOSS_TYPES)
        """dr_grpo: token sum over the generation cap (Eq. 3)."""
