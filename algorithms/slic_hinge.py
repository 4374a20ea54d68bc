from dataclasses import dataclass

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("slic-hinge")
class SLiCHinge(Pairwise):
    """SLiC-HF rank-calibration hinge loss (Zhao et al. 2023, Eq. 1) on reference log-ratios.

    loss = max(0, δ − β·h). SLiC-HF writes the hinge on log π(y_w) − log π(y_l) and adds a
    cross-entropy regulariser on SFT targets; here, as in RSO (Liu et al. 2023, §3) and TRL's `hinge`,
    the margin is the reference-normalised h, which plays the regulariser's part — pairwise data carry
    no SFT target. The loss is zero once β·h ≥ δ, so the policy stops moving on a satisfied pair.
    Inputs and losses share the shape of ``PairLogps``.
    """

    paper = "Zhao et al. 2023, arXiv:2305.10425"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the scale of the log-ratio margin (RSO's γ⁻¹; δ/β is the margin h must reach)."""
        delta: float = param(1.0, gt=0)
        """δ, the hinge margin of SLiC-HF Eq. 1."""

    def loss(self, b: PairLogps) -> LossOutput:
        margin = b.logratio_margin
        return LossOutput((self.config.delta - self.config.beta * margin).clamp(min=0), {"margin": margin})
