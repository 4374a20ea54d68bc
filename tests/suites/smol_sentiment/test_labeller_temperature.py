"""A labeller other than the one the data declare (``--labeller-temperature``): the same pairs and random
draws labelled again, the source's key and labels, and the misspecification table of the leaderboard."""

from __future__ import annotations

import gzip
import json

import pytest

from prefzoo.benchmarks.suites.smol_sentiment.data import DataSettings, relabelled_train
from prefzoo.benchmarks.suites.smol_sentiment.source import SHIPPED_DATA, GeneratedSentiment


def _shipped() -> dict:
    (path,) = [p for p in SHIPPED_DATA.glob("smol-sentiment-*.json.gz") if "-ood-" not in p.name]
    return json.loads(gzip.decompress(path.read_bytes()))


def _against_gold(rows: list[dict]) -> set[str]:
    return {json.dumps(r["prompt"]) for r in rows if r["gold_chosen"] < r["gold_rejected"]}


def test_the_datas_own_temperature_gives_the_shipped_labels_back_and_a_hotter_labeller_only_adds_wrong_ones():
    data = _shipped()
    own = data["settings"]["label_temperature"]
    assert relabelled_train(data, own, data["settings"]["seed"]) == data["train"]
    hot = relabelled_train(data, 1.0, data["settings"]["seed"])
    pair = lambda r: (json.dumps(r["prompt"]), frozenset((r["chosen"][0]["content"], r["rejected"][0]["content"])))  # noqa: E731
    assert [pair(r) for r in hot] == [pair(r) for r in data["train"]]  # the same pairs, in the same order
    # Common draws: P(best preferred) = σ(Δ/T) only falls as T rises, so every pair the suite's labeller
    # ordered against the gold stays so, and more join it (8 of 398 at T = 0.1, 128 at T = 1).
    assert _against_gold(data["train"]) < _against_gold(hot)
    assert (len(_against_gold(data["train"])), len(_against_gold(hot))) == (8, 128)


def test_the_source_key_names_the_labeller_and_its_load_relabels(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path))
    data, settings = _shipped(), DataSettings(**_shipped()["settings"])
    plain = GeneratedSentiment(settings)
    base = plain.key("model")
    generated, _ = plain._files(base)
    generated.parent.mkdir(parents=True)
    generated.write_text(json.dumps(data))  # this machine's copy, so nothing is sampled
    (tmp_path / "data" / generated.name.replace(base, f"{base}-ood-x")).write_text("{}")
    monkeypatch.setattr(GeneratedSentiment, "_ood", lambda *a: None)
    assert GeneratedSentiment(settings, labeller_temperature=settings.label_temperature).key("model") == base
    hot = GeneratedSentiment(settings, labeller_temperature=1.0)
    assert hot.key("model") == f"{base}+labeller-T1" and hot.label_temperature == 1.0
    loaded = hot.load(None, None, hot.key("model"))
    assert loaded.train == relabelled_train(data, 1.0, settings.seed) and loaded.eval == data["eval"]
    with pytest.raises(ValueError, match="--labeller-temperature 0.0: a Bradley–Terry labeller's temperature must be > 0"):
        GeneratedSentiment(settings, labeller_temperature=0.0)


@pytest.mark.slow
def test_a_reward_learner_at_two_labellers_in_the_lm_suite_makes_the_misspecification_table(tmp_path, monkeypatch):
    from prefzoo.benchmarks.suites.lm.report import describe_setting
    from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite
    from prefzoo.benchmarks.harness.results import load_results
    from prefzoo.benchmarks.suites.lm.reward_report import misspecification_rows
    from tests.helpers import lm_results, run_cli
    from tests.tiny_lm import make_tiny_lm

    tiny = make_tiny_lm(tmp_path / "model")
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    args = ["bench", "--suite", "smol-sentiment", "--algorithms", "bt", "--steps", "2", "--seeds", "1", "--model",
            str(tiny), "--train", "batch_size=4,micro_batch_size=4", "--results", str(tmp_path / "results"),
            "--plot", str(tmp_path / "p.png")]
    for extra in ([], ["--labeller-temperature", "5"]):
        out = run_cli(*args, *extra, cwd=tmp_path, timeout=900)
        assert out.returncode == 0, out.stdout + out.stderr
    docs = sorted(load_results(tmp_path / "results", "smol-sentiment"), key=lambda d: d.get("labeller_temperature", 0))
    own, hot = [d for d in docs if d["algorithm"] == "bt"]
    assert "labeller_temperature" not in own and hot["labeller_temperature"] == 5.0
    assert hot["data_key"] == own["data_key"] + "+labeller-T5" and own["hash"] != hot["hash"]
    assert hot["labels_against_gold"] > own["labels_against_gold"]
    assert "Bradley–Terry draw at temperature 5.0 (labels drawn again" in describe_setting(lm_results(hot)[0])
    headers, rows = misspecification_rows(lm_results(*docs))
    assert [r[:4] for r in rows] == [["bt", "0.1", f"{own['labels_against_gold']:.0%}", "1"],
                                     ["bt", "5", f"{hot['labels_against_gold']:.0%}", "1"]]
    assert rows[1][4] == f"{hot['eval']['reward']['pair_accuracy']:.3f}"
    # a result written before results carried the share takes it from another result of its setting
    older = [{k: v for k, v in d.items() if not (d is own and k == "labels_against_gold")} for d in docs]
    assert misspecification_rows(lm_results(*older))[1] == rows
    assert misspecification_rows(lm_results(*[d for d in older if d["algorithm"] == "bt"]))[1][0][2] == "—"
    suite = SmolSentimentSuite()
    assert "### Reward learning from a misspecified labeller" in suite.section(suite.read(docs), tmp_path)
