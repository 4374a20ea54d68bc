from dataclasses import dataclass

import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("dpo")
class DPO(Pairwise):
    """Direct Preference Optimization (Rafailov et al. 2023, Eq. 7).

    loss = −log σ(β·h), h = log π(y_w)/π_ref(y_w) − log π(y_l)/π_ref(y_l). Inputs and losses share
    the shape of ``PairLogps`` (``(batch,)`` in the LM engine).
    """

    paper = "Rafailov et al. 2023, arXiv:2305.18290"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the strength of the KL constraint to π_ref (Eq. 7)."""

    def loss(self, b: PairLogps) -> LossOutput:
        margin = b.logratio_margin
        return LossOutput(-F.logsigmoid(self.config.beta * margin), {"margin": margin})
