"""Preference oracles: who labels the online family's response pairs.

One small interface for every labeller — the suite's gold reward through Bradley–Terry (synthetic
suites), a learned reward model's score through the same link, or any user callable — and one count
of queries, so online and offline methods can be compared on labelling cost. Responses are whatever
the loop produces (texts for language models, arm indices in the bandit); an oracle only compares.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import torch

Responses = Sequence[Any] | torch.Tensor
RewardFn = Callable[[Sequence[Any] | None, Responses], torch.Tensor]


class PreferenceOracle(ABC):
    """Labels pairs: ``oracle(prompts, first, second)`` is a bool tensor ``(n,)``, True where the first
    response is preferred. Every labelled pair counts as one query."""

    def __init__(self):
        self.queries = 0

    def __call__(self, prompts: Sequence[Any] | None, first: Responses, second: Responses) -> torch.Tensor:
        if len(first) != len(second):
            raise ValueError(f"{type(self).__name__}: {len(first)} first responses but {len(second)} second ones")
        labels = torch.as_tensor(self.prefer_first(prompts, first, second))
        if labels.dtype != torch.bool or labels.shape != (len(first),):
            raise ValueError(f"{type(self).__name__} returned {labels.dtype} of shape {tuple(labels.shape)}; "
                             f"expected bool of shape ({len(first)},)")
        self.queries += len(first)
        return labels

    @abstractmethod
    def prefer_first(self, prompts: Sequence[Any] | None, first: Responses, second: Responses) -> torch.Tensor:
        """True where ``first[i]`` is preferred to ``second[i]``."""


class BradleyTerryOracle(PreferenceOracle):
    """A scalar reward r(x, y) — the gold reward of a synthetic suite, or a learned reward model's
    score — through Bradley–Terry: P(first ≻ second) = σ((r₁ − r₂)/T). T = 0 labels by the larger
    reward (ties go to the first response). Draws come from the oracle's own seeded generator."""

    def __init__(self, reward: RewardFn, temperature: float, seed: int = 0):
        super().__init__()
        if temperature < 0:
            raise ValueError(f"BradleyTerryOracle: temperature = {temperature}: must be >= 0")
        self.reward, self.temperature = reward, temperature
        self.generator = torch.Generator().manual_seed(seed)

    def prefer_first(self, prompts, first, second) -> torch.Tensor:
        r1 = torch.as_tensor(self.reward(prompts, first), dtype=torch.float64)
        r2 = torch.as_tensor(self.reward(prompts, second), dtype=torch.float64)
        if self.temperature == 0:
            return r1 >= r2
        p = torch.sigmoid((r1 - r2) / self.temperature)
        return torch.rand(p.shape, generator=self.generator, dtype=torch.float64) < p


class CallableOracle(PreferenceOracle):
    """A user-supplied judge ``fn(prompts, first, second) -> bools`` (an LLM judge, a human queue, ...)."""

    def __init__(self, fn: Callable[[Sequence[Any] | None, Responses, Responses], Any]):
        super().__init__()
        self.fn = fn

    def prefer_first(self, prompts, first, second) -> torch.Tensor:
        return torch.as_tensor(self.fn(prompts, first, second), dtype=torch.bool)
