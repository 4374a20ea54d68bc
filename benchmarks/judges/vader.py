"""VADER, the rule-based sentiment lexicon (Hutto & Gilbert 2014): smol-sentiment's gold reward."""

from __future__ import annotations

from functools import cache

import torch

from prefzoo.benchmarks.judges.base import Judge
from prefzoo.registry import JUDGES


@cache
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@JUDGES.register("vader")
class Vader(Judge):
    """VADER's compound sentiment of the response, in [−1, 1] (Hutto & Gilbert 2014, §3: the normalised
    sum of valence scores under its rules). The prompt is not read. Offline; scores shape (n,)."""

    summary = "VADER compound sentiment of the response, in [-1, 1] (Hutto & Gilbert 2014); offline"
    requires = ("vaderSentiment",)
    temperature = 0.1

    def score(self, prompts, completions) -> torch.Tensor:
        analyzer = _analyzer()
        return torch.tensor([analyzer.polarity_scores(t)["compound"] for t in completions], dtype=torch.float64)
