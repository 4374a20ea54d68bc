"""A second gold on stored samples: the files gain the judge's scores once, the setting is ranked again
under them, and the rank agreement between the two golds is Spearman's ρ with its interval."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from prefzoo.benchmarks.judges.base import make_judge
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.second_gold import judges_of, rank_agreement, rejudge, under
from prefzoo.benchmarks.suites.lm.table import aggregate
from tests.helpers import lm_result

WORDS = ["good", "great", "bad", "terrible", "fine", "a place"]


def _doc(name: str, seed: int, texts: list[str], vader: list[float]) -> dict:
    samples = {"prompt_ids": list(range(len(texts))), "texts": texts, "rewards": vader}
    return lm_result(algorithm=name, seed=seed, hash=name, eval={"samples": samples, "generated_tokens": 3 * len(texts)},
                     checkpoints=[{"step": 1, "eval": {"samples": samples}}] if name != "reference" else None)


def test_rejudge_adds_the_scores_once_and_under_swaps_them_in(tmp_path):
    path = tmp_path / "seed0-dpo.json"
    path.write_text(json.dumps(_doc("dpo", 0, ["good", "not good", "a place"], [0.4, -0.3, 0.0])))
    judge = make_judge("textblob")
    logged = []
    assert rejudge([path], judge, lambda: [None] * 3, logged.append) == 1
    assert rejudge([path], judge, lambda: pytest.fail("no file needs the prompts"), logged.append) == 0
    doc = LMResult.parse(json.loads(path.read_text()))
    assert doc.judged["textblob"].rewards == pytest.approx([0.7, -0.35, 0.0])
    assert doc.judged["textblob"].checkpoints == [doc.judged["textblob"].rewards]
    assert judges_of([doc]) == []  # a setting's second golds are those its reference cells have
    assert judges_of([doc, dataclasses.replace(doc, algorithm="reference")]) == ["textblob"]
    rescored = under(doc, "textblob")
    assert rescored.eval.samples.rewards == doc.judged["textblob"].rewards
    assert rescored.checkpoints[0].eval.samples.rewards == doc.judged["textblob"].rewards
    assert rescored.eval.samples.texts == doc.eval.samples.texts and doc.eval.samples.rewards == [0.4, -0.3, 0.0]


def _rows(scores: dict[str, list[float]]) -> list[dict]:
    docs = [lm_result(algorithm=name, seed=s, hash=name,
                      eval={"samples": {"prompt_ids": list(range(4)), "texts": ["x"] * 4, "rewards": values}})
            for name, values in scores.items() for s in range(3)]
    return aggregate([LMResult.parse(d) for d in docs])


def test_rank_agreement_is_spearman_of_the_row_means():
    base = {"reference": [0.0] * 4, "a": [0.1, 0.2, 0.1, 0.2], "b": [0.3, 0.4, 0.3, 0.4], "c": [0.5, 0.6, 0.5, 0.6],
            "d": [0.7, 0.8, 0.7, 0.8]}
    same = rank_agreement(_rows(base), _rows({k: [v * 2 for v in vs] for k, vs in base.items()}))
    assert same["mean"] == pytest.approx(1.0) and same["rows"] == 4
    reversed_ = rank_agreement(_rows(base), _rows({k: [-v for v in vs] for k, vs in base.items()}))
    assert reversed_["mean"] == pytest.approx(-1.0) and reversed_["high"] == pytest.approx(-1.0)
    one_swap = rank_agreement(_rows(base), _rows({**base, "a": base["b"], "b": base["a"]}))
    # ranks (1,2,3,4) against (2,1,3,4): ρ = 1 − 6·Σd²/(n(n²−1)) = 1 − 6·2/60
    assert one_swap["mean"] == pytest.approx(0.8)
    assert rank_agreement(_rows({"reference": [0.0] * 4, "a": [0.1] * 4}), _rows(base)) is None


def test_the_leaderboard_ranks_a_setting_again_under_its_second_gold(tmp_path):
    from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite

    texts = {"reference": ["a place", "a place", "fine"], "dpo": ["good", "great", "good"],
             "ipo": ["bad", "a place", "fine"], "kto": ["great", "good", "terrible"]}
    judge = make_judge("textblob")
    paths = []
    for name, t in texts.items():
        for seed in range(3):
            vader = make_judge("vader").score(None, t).tolist()
            path = tmp_path / f"{name}-{seed}.json"
            path.write_text(json.dumps(_doc(name, seed, t, vader)))
            paths.append(path)
    rejudge(paths, judge, lambda: [None] * 3, lambda _: None)
    docs = [LMResult.parse(json.loads(p.read_text())) for p in paths]
    text = SmolSentimentSuite().section(docs, tmp_path)
    assert "#### The same samples under a second gold: `textblob`" in text
    assert "Spearman's ρ between the rows' mean rewards under the two golds" in text
    second = aggregate([under(d, "textblob") for d in docs])
    dpo = next(r for r in second if r["name"] == "dpo")
    assert dpo["gold_reward"]["mean"] == pytest.approx(float(torch.tensor([0.7, 0.8, 0.7]).mean()))


@pytest.mark.slow
def test_judge_on_smol_sentiment_scores_the_run_once_and_refuses_a_bad_judge(tmp_path, monkeypatch):
    from prefzoo.benchmarks.harness.results import load_results
    from tests.helpers import run_cli
    from tests.tiny_lm import make_tiny_lm

    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    tiny = make_tiny_lm(tmp_path / "tiny")
    args = ("bench", "--suite", "smol-sentiment", "--seeds", "1", "--algorithms", "dpo", "--model", str(tiny),
            "--train", "steps=2", "--results", "results", "--plot", "p.png")
    refused = run_cli(*args, "--judge", "textblb", cwd=tmp_path)
    assert refused.returncode == 2 and "did you mean 'textblob'" in refused.stdout
    assert not (tmp_path / "results").exists()
    out = run_cli(*args, "--judge", "textblob", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "--judge textblob: 2 result files scored" in out.stdout
    again = run_cli(*args, "--judge", "textblob", cwd=tmp_path)
    assert "--judge textblob: 0 result files scored, 2 had the scores already" in again.stdout
    judge = make_judge("textblob")
    for doc in load_results(tmp_path / "results", "smol-sentiment"):
        texts = doc["eval"]["samples"]["texts"]
        assert doc["judged"]["textblob"]["rewards"] == judge.score([None] * len(texts), texts).tolist()
