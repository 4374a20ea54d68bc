"""The online-preference family's interface: pairs sampled during training, labelled by an oracle."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

from torch import Tensor

from prefzoo.algorithms.framework.interface import Algorithm, Family, LossOutput
from prefzoo.algorithms.framework.pairwise_family import PairLogps

Sampler = Literal["policy", "reference"]


@dataclass(frozen=True)
class PairOrigins:
    """Which response of each labelled pair was sampled from π_ref (the base with adapters disabled);
    bool tensors shaped like the pairs' log-probs. XPO's exploration term reads them."""

    chosen_from_reference: Tensor
    rejected_from_reference: Tensor


class OnlinePreference(Algorithm):
    """Online preference optimisation (Guo et al. 2024 Online DPO; Xie et al. 2024 XPO, Algorithm 1).

    A member supplies ``samplers`` — which policy generates each response of a pair, ``"policy"`` (the
    current adapter) or ``"reference"`` (the base with adapters truly disabled) — whether it trains on
    every pair labelled so far (``keeps_all_data``, Algorithm 1's growing D_pref) or on the round's
    fresh pairs only, and ``loss``: per-pair losses of labelled pairs (:class:`PairLogps`, shape
    ``(batch,)`` in the LM loop, ``(seeds, pairs)`` in the bandit) given where each response came from
    and ``progress`` ∈ [0, 1], the fraction of rounds done (for schedules).
    The loop, each round: sample prompts; generate a pair from ``samplers``; label it with a preference
    oracle, counting queries; append the labelled pairs to the dataset (optionally a capped replay
    buffer); take optimiser steps on ``loss`` over that data.
    """

    family = Family.ONLINE
    has_implicit_reward = True
    samplers: ClassVar[tuple[Sampler, Sampler]] = ("policy", "policy")
    keeps_all_data: ClassVar[bool] = True

    @abstractmethod
    def loss(self, pairs: PairLogps, origins: PairOrigins, progress: float) -> LossOutput:
        """The per-pair loss of one update, shape ``pairs.policy_chosen.shape``."""

    def implicit_reward(self, logp: Tensor, ref_logp: Tensor | None, tokens: Tensor | None) -> Tensor:
        """β·log π/π_ref up to scale: the DPO reward the online update fits (held-out pair accuracy)."""
        return logp - ref_logp
