"""The smol-sentiment suite: the LM suites' run on its own generated data (``source.GeneratedSentiment``)."""

from __future__ import annotations

import dataclasses

from prefzoo.benchmarks.harness.suite import at_least
from prefzoo.benchmarks.suites.lm.data_settings import DataSettings
from prefzoo.benchmarks.suites.lm.suite import LMOptions, _LMSuite
from prefzoo.benchmarks.suites.smol_sentiment.data import SUITE
from prefzoo.benchmarks.suites.smol_sentiment.source import GeneratedSentiment


@dataclasses.dataclass(frozen=True, kw_only=True)
class GeneratedDataOptions(LMOptions):
    """The options of an LM suite on smol-sentiment's generated pairs."""

    regenerate_data: bool = False
    """Sample the pairs on this machine instead of reading the shipped copy."""
    judge: str | None = None
    """NAME[:ARG], a second gold (prefzoo list --judges): the run's stored samples are scored again by it, no
    retraining, and the leaderboard shows whether the ranking holds under it, e.g. textblob."""
    labeller_temperature: float | None = None
    """Draw the train pairs' Bradley–Terry labels again at this temperature instead of the data's own (0.1),
    from the same pairs and random draws, so the labels come from a labeller other than the one the suite
    declares (misspecification)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class SmolSentimentOptions(GeneratedDataOptions):
    tune: int | None = at_least(1)
    """Give every algorithm N trials from its search space, select on validation prompts, report the
    selected config on the test prompts (a section of its own)."""
    labels: float | None = None
    """The share of the read pairs whose labels reward learning sees (reward learners, the RL family's
    reward model); a semi-supervised learner (ser) gets the rest unlabelled. Default 1."""


class SmolSentimentSuite(_LMSuite):
    """QLoRA on SmolLM2-135M-Instruct (or any causal LM); pairs from the reference, gold reward = VADER."""

    name = SUITE
    order = 10
    Options = SmolSentimentOptions

    def generated_source(self, data: DataSettings, options: GeneratedDataOptions) -> GeneratedSentiment:
        return GeneratedSentiment(data, regenerate=options.regenerate_data,
                                  labeller_temperature=options.labeller_temperature)
