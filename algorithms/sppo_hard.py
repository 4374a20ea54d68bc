from dataclasses import dataclass

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("sppo-hard")
class SPPOHard(Pairwise):
    """Self-Play Preference Optimization with hard win probabilities (Wu et al. 2024, Eq. 4.7 / Alg. 1).

    SPPO regresses log π/π_ref (y) onto η(P(y ≻ π) − ½); with P = 1 for the winner and 0 for the
    loser, and η = 1/β: loss = (log π/π_ref (y_w) − 1/(2β))² + (log π/π_ref (y_l) + 1/(2β))². TRL's
    ``sppo_hard``. Inputs and losses share the shape of ``PairLogps``.
    """

    paper = "Wu et al. 2024, arXiv:2405.00675"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β = 1/η: the log-ratio targets are ±1/(2β)."""

    def loss(self, b: PairLogps) -> LossOutput:
        target = 0.5 / self.config.beta
        losses = (b.chosen_logratio - target) ** 2 + (b.rejected_logratio + target) ** 2
        return LossOutput(losses, {"margin": b.logratio_margin})
