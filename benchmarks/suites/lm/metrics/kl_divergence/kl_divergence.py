"""KL(π ‖ π_ref) estimated on the policy's own samples."""

import datasets
import evaluate

from prefzoo.benchmarks.harness.stats import bootstrap_ci

_DESCRIPTION = """Mean of log π(y|x) − log π_ref(y|x) over responses y sampled from π (the unbiased k1
estimator of KL(π ‖ π_ref), summed over the response's tokens), with a 95% bootstrap interval over prompts."""


class KLDivergence(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="",
            inputs_description="predictions: log π(y|x); references: log π_ref(y|x); prompt_ids: int",
            features=datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64"),
                                        "prompt_ids": datasets.Value("int64")}))

    def _compute(self, predictions, references, prompt_ids, level=0.95, seed=0):
        ratios = [p - r for p, r in zip(predictions, references)]
        mean, low, high = bootstrap_ci(ratios, prompt_ids, level=level, seed=seed)
        return {"mean": mean, "ci_low": low, "ci_high": high, "n": len(ratios)}
