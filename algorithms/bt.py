from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from prefzoo import AlgorithmConfig, LossOutput, RewardLearning, param, register


@register("bt")
class BradleyTerry(RewardLearning):
    """Bradley–Terry maximum likelihood (Bradley & Terry 1952; the reward model of Ouyang et al. 2022, Eq. 1).

    loss = −[y·log σ(r_w − r_l) + (1 − y)·log σ(r_l − r_w)], y the label that the first response is
    preferred (1 for hard labels: −log σ(r_w − r_l)). Rewards, labels and losses share one shape,
    ``(batch,)`` in the LM loop, ``(seeds, pairs)`` in the bandit. Labels never change.
    """

    paper = "Bradley & Terry 1952; Ouyang et al. 2022, arXiv:2203.02155"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = None
        alpha: float = param(1e-3, gt=0)
        """α, the reward model's step size (the loop's learning rate)."""

    @property
    def learning_rate(self) -> float:
        return self.config.alpha

    def loss(self, reward_chosen: Tensor, reward_rejected: Tensor, labels: Tensor) -> LossOutput:
        margin = reward_chosen - reward_rejected
        return LossOutput(F.binary_cross_entropy_with_logits(margin, labels.to(margin.dtype), reduction="none"),
                          {"margin": margin.detach()})
