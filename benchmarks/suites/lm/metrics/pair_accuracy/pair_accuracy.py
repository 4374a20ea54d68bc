"""Held-out pair accuracy: how often an implicit reward ranks the gold-preferred response first."""

import datasets
import evaluate

from prefzoo.benchmarks.harness.stats import bootstrap_ci

_DESCRIPTION = """Fraction of held-out pairs whose implicit reward margin r(y_w) − r(y_l) is positive
(zero counts one half), with a 95% bootstrap interval over pairs."""


class PairAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description="predictions: float margins",
            features=datasets.Features({"predictions": datasets.Value("float64")}))

    def _compute(self, predictions, level=0.95, seed=0):
        hits = [1.0 if m > 0 else 0.5 if m == 0 else 0.0 for m in predictions]
        mean, low, high = bootstrap_ci(hits, list(range(len(hits))), level=level, seed=seed)
        return {"mean": mean, "ci_low": low, "ci_high": high, "n": len(hits)}
