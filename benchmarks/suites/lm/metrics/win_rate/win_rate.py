"""Gold win rate of the policy's samples against the reference policy's samples for the same prompts."""

import datasets
import evaluate

from prefzoo.benchmarks.harness.stats import bootstrap_ci

_DESCRIPTION = """Fraction of (policy sample, reference sample) pairs of the same prompt where the policy's
gold reward is higher (a tie counts one half), with a 95% bootstrap interval over prompts."""


class WinRate(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="",
            inputs_description="predictions: policy rewards; references: reference rewards; prompt_ids: int",
            features=datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64"),
                                        "prompt_ids": datasets.Value("int64")}))

    def _compute(self, predictions, references, prompt_ids, level=0.95, seed=0):
        wins = [1.0 if p > r else 0.5 if p == r else 0.0 for p, r in zip(predictions, references)]
        mean, low, high = bootstrap_ci(wins, prompt_ids, level=level, seed=seed)
        return {"mean": mean, "ci_low": low, "ci_high": high, "n": len(wins)}
