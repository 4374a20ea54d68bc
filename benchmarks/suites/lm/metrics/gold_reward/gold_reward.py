"""Mean gold reward of sampled responses with a 95% bootstrap interval over prompts."""

import datasets
import evaluate

from prefzoo.benchmarks.harness.stats import bootstrap_ci

_DESCRIPTION = """Mean of `predictions` (gold rewards of sampled responses); the interval resamples
prompts (`references` holds each sample's prompt index), since samples of one prompt are correlated."""


class GoldReward(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description="predictions: float rewards; references: int prompt ids",
            features=datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("int64")}))

    def _compute(self, predictions, references, level=0.95, seed=0):
        mean, low, high = bootstrap_ci(predictions, references, level=level, seed=seed)
        return {"mean": mean, "ci_low": low, "ci_high": high, "n": len(predictions)}
