"""Rows of one setting that trained one policy are found from their samples and said so under the setting."""

from __future__ import annotations

from prefzoo.benchmarks.suites.lm.identical_rows import identical_rows, identical_rows_lines
from tests.helpers import lm_result, lm_results


def _doc(name: str, seed: int, final: list[str], along: list[str] | None = None, family: str = "rl-with-reward"):
    def samples(texts):
        return {"prompt_ids": list(range(len(texts))), "texts": texts}

    return lm_result(algorithm=name, seed=seed, family=family, train={}, eval={"samples": samples(final)},
                     checkpoints=[{"step": 3, "eval": {"samples": samples(along or final)}}])


def test_rows_with_the_same_samples_on_every_shared_seed_are_one_class():
    docs = lm_results(
        *[_doc(name, s, [f"seed {s} text"]) for name in ("dapo", "vespo") for s in range(3)],
        _doc("gspo", 0, ["seed 0 text"]), _doc("gspo", 1, ["seed 1 text"]), _doc("gspo", 2, ["another"]),
        _doc("sapo", 0, ["seed 0 text"], along=["differs along training"]),
        lm_result(algorithm="reference", seed=0, family="reference",
                  eval={"samples": {"prompt_ids": [0], "texts": ["seed 0 text"]}}))
    # gspo parts from dapo on seed 2, sapo at its step-3 evaluation; the reference is no trained row
    assert identical_rows(docs) == [(["dapo", "vespo"], 3, {"rl-with-reward"})]
    line = identical_rows_lines(docs)[0]
    assert line.startswith("**One policy in several rows.** `dapo` and `vespo` drew the same held-out samples at "
                           "every evaluation on each of the 3 seeds they share.")
    assert "one optimiser step per rollout every importance ratio is 1" in line


def test_a_pairwise_class_is_named_without_the_rl_explanation_and_distinct_rows_give_no_line():
    docs = lm_results(*[_doc(name, s, [f"{s}"], family="pairwise") for name in ("apo", "kto", "dpo") for s in (0, 1)])
    line = identical_rows_lines(docs)[0]
    assert "`apo`, `dpo`, `kto` drew the same held-out samples at every evaluation on each of the 2 seeds" in line
    assert "importance ratio" not in line
    assert identical_rows_lines(lm_results(_doc("dapo", 0, ["a"]), _doc("vespo", 0, ["b"]))) == []


def test_the_on_policy_explanation_is_given_only_where_each_rollout_is_one_step():
    docs = [_doc(name, 0, ["same"]) for name in ("dapo", "vespo")]
    for doc in docs:
        doc["settings"]["rl"]["steps_per_rollout"] = 4
    assert "importance ratio" not in identical_rows_lines(lm_results(*docs))[0]
