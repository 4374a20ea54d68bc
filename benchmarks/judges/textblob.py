"""TextBlob's polarity: the pattern library's adjective lexicon (De Smedt & Daelemans 2012), shipped
inside the textblob package, so it runs offline."""

from __future__ import annotations

import torch

from prefzoo.benchmarks.judges.base import Judge
from prefzoo.registry import JUDGES


@JUDGES.register("textblob")
class TextBlobPolarity(Judge):
    """TextBlob's ``PatternAnalyzer`` polarity of the response, in [−1, 1]: the mean polarity of the
    lexicon's words found, with its negation and intensifier rules (De Smedt & Daelemans 2012, "Pattern
    for Python", JMLR 13). A second sentiment lexicon beside VADER, built independently of it. The
    prompt is not read; scores shape (n,)."""

    summary = "TextBlob (pattern) polarity of the response, in [-1, 1]; offline"
    requires = ("textblob",)
    temperature = 0.1

    def score(self, prompts, completions) -> torch.Tensor:
        from textblob import TextBlob

        return torch.tensor([TextBlob(t).sentiment.polarity for t in completions], dtype=torch.float64)
