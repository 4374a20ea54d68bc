from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from prefzoo import AlgorithmConfig, param, register
from prefzoo.algorithms.bt import BradleyTerry


@dataclass(frozen=True)
class PrincipleDraw:
    """One training example's principles: indices into the principle list in the order the prompt
    lists them, which of them are stated negated, and whether the first response is preferred."""

    principles: tuple[int, ...]
    negated: tuple[bool, ...]
    first_preferred: bool


@register("salmon-rm")
class InstructableReward(BradleyTerry):
    """SALMON's instructable reward model (Sun et al. 2023, arXiv:2310.05910): r(principles,
    x, y), a reward model whose input lists the principles it judges by, trained so that stating a
    different principle (or its negation) changes what it prefers; at RL time the principles are a
    setting (``reward_principle`` of the RL algorithm).

    Training data (the rule as the authors' released code writes it,
    ``training/step2_rm_training/aggregate_synthetic_preference.py`` of IBM/SALMON): every pair has a relative score s_d per principle d (> 0: the first response is better under d). Per
    training example, k ~ Geometric(0.2) is drawn again while k > ``max_principles``; the first k of
    the shuffled principles are listed, each stated negated with probability ½ (``negation``; its
    score's sign flipped). Scores are divided by their principle's variance over the data (the variance
    over both orders of every pair, E[s_d²]); the listed principle with the largest |score| decides the label
    (a 0 drops the example) and the label is flipped with probability ``label_noise``. The code's
    4 passes over the data become the budget's reward epochs: one pass each, each with fresh draws.

    The loss is Bradley–Terry's (Ouyang et al. 2022, Eq. 1) on the rewards of ``(batch,)`` pairs whose
    first response is the drawn preferred one.
    """

    paper = "Sun et al. 2023, arXiv:2310.05910"
    uses_principles = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = None
        alpha: float = param(1e-3, gt=0)
        """α, the reward model's step size (the loop's learning rate)."""
        max_principles: int = param(8, ge=1)
        """k, the number of listed principles, is drawn again while above this (the authors' 8)."""
        label_noise: float = param(0.1, ge=0, lt=0.5)
        """The share of drawn labels flipped (the authors' noisy_ratio)."""
        negation: float = param(0.5, ge=0, le=1, omit_default=True)
        """The probability that a listed principle is stated negated (the authors' ½; 0: never)."""

    @staticmethod
    def variances(scores: Sequence[Sequence[float]]) -> list[float]:
        """Per principle, the variance of its scores over both orders of every pair: E[s²] (mean 0)."""
        n = len(scores)
        return [sum(row[d] ** 2 for row in scores) / n for d in range(len(scores[0]))]

    @staticmethod
    def preference(scores: Sequence[float], variances: Sequence[float], principles: Sequence[int],
                   negated: Sequence[bool]) -> int:
        """+1 (first preferred), −1 or 0 (no preference): the sign of the listed principle's normalised,
        possibly negated score with the largest magnitude (the first such on ties, as ``np.argmax``)."""
        normalised = [(-1 if neg else 1) * (scores[d] / variances[d] if variances[d] else 0.0)
                      for d, neg in zip(principles, negated)]
        dominant = max(range(len(normalised)), key=lambda i: (abs(normalised[i]), -i))
        value = normalised[dominant]
        return (value > 0) - (value < 0)

    def draw(self, scores: Sequence[float], variances: Sequence[float], rng: random.Random) -> PrincipleDraw | None:
        """One example's principles and label from its per-principle ``scores`` (None: no preference)."""
        c = self.config
        k = c.max_principles + 1
        while k > c.max_principles:
            k = 1
            while rng.random() >= 0.2:  # Geometric(0.2) on {1, 2, ...}
                k += 1
        order = list(range(len(scores)))
        rng.shuffle(order)
        principles = tuple(order[:k])
        negated = tuple(rng.random() < c.negation for _ in principles)
        sign = self.preference(scores, variances, principles, negated)
        if sign == 0:
            return None
        flip = rng.random() < c.label_noise
        return PrincipleDraw(principles, negated, (sign > 0) != flip)
