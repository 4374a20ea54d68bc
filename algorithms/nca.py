from dataclasses import dataclass

import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("nca")
class NCA(Pairwise):
    """Noise Contrastive Alignment, pairwise preference form (Chen et al. 2024, Eq. 12 with K = 2).

    With r = β·log π/π_ref: loss = −log σ(r_w) − ½ log σ(−r_w) − ½ log σ(−r_l). Each response's own
    likelihood ratio is optimised (not only the margin), so the chosen likelihood is pushed up rather
    than only apart from the rejected one. TRL's ``nca_pair``. Inputs and losses share the shape of
    ``PairLogps``.
    """

    paper = "Chen et al. 2024, arXiv:2402.05369"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the scale of the implicit reward r = β·log π/π_ref."""

    def loss(self, b: PairLogps) -> LossOutput:
        rw, rl = self.config.beta * b.chosen_logratio, self.config.beta * b.rejected_logratio
        losses = -F.logsigmoid(rw) - 0.5 * F.logsigmoid(-rw) - 0.5 * F.logsigmoid(-rl)
        return LossOutput(losses, {"margin": b.logratio_margin})
