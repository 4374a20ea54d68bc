"""The reward-learning family's interface: a scalar reward model learned from preference pairs."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from torch import Tensor

from prefzoo.algorithms.framework.interface import Algorithm, Family, LossOutput


class RewardLearning(Algorithm):
    """Learns a scalar reward r(x, y) from preference pairs (Bradley–Terry MLE; Iterative Data Smoothing, Zhu et al. 2024).

    A member supplies ``loss`` on the rewards of a batch of pairs with soft labels (the probability that
    the chosen response is preferred, ``(batch,)``) and, optionally, ``update_labels`` run after each
    epoch. The loop trains a LoRA adapter and a scalar head on the shared base and returns a
    ``RewardModel`` that the RL and online families consume.
    """

    family = Family.REWARD
    trains_policy = False
    uses_unlabelled: ClassVar[bool] = False
    """True for a semi-supervised learner (SER): the loop also hands it the pairs whose labels the label
    budget withholds, in random order, and runs its self-labelling rounds."""
    extracts_policy: ClassVar[bool] = False
    """True for reward extraction (inverse RL): the loop trains it on a trained policy's samples
    against the reference's (``config.policy`` names the algorithm) instead of on labelled pairs."""
    uses_principles: ClassVar[bool] = False
    """True for an instructable reward model (SALMON): the loop trains it on pairs relabelled under
    principles drawn per pair (its ``draw``), the principles' text in its input, and an RL
    algorithm asks it about the principles its ``reward_principle`` names."""

    @property
    def learning_rate(self) -> float | None:
        """The step size the algorithm itself defines (IDS's α), or None for the loop's learning rate."""
        return None

    @abstractmethod
    def loss(self, reward_chosen: Tensor, reward_rejected: Tensor, labels: Tensor) -> LossOutput:
        """Per-pair loss, ``(batch,)``."""

    def update_labels(self, labels: Tensor, reward_chosen: Tensor, reward_rejected: Tensor) -> Tensor:
        """New soft labels after an epoch; the default keeps them."""
        return labels
