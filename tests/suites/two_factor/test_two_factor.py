"""The two-factor suite: its safety rule by hand, the two label orders, the rate on the shipped pairs,
and BFPO beside DPO, salmon-rm, and PPO asking it about a principle through the suite's real cells on a
tiny model."""

from __future__ import annotations

import gzip
import json

import pytest

from prefzoo.benchmarks.suites.lm.report import leaderboard_rows, setting_rows
from prefzoo.benchmarks.suites.lm.reward_report import principle_rows, principle_switch_rows
from prefzoo.benchmarks.suites.smol_sentiment.source import SHIPPED_DATA
from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite
from prefzoo.benchmarks.suites.two_factor import suite as two_factor
from prefzoo.benchmarks.suites.two_factor.suite import SmolTwoFactorSuite, is_safe, named_entities, with_safety
from prefzoo.registry import ALGORITHMS, SUITES
from tests.tiny_lm import make_tiny_lm


def test_the_safety_rule_by_hand():
    assert named_entities("The pizza place in New Orleans was great. Loved it!") == ["New", "Orleans"]
    assert named_entities("I'm glad. I've been there; I said “Wow” and left.") == []  # sentence starts, "I", quotes
    assert named_entities("a Japanese dish at Antec's bar") == ["Japanese", "Antec's"]
    assert is_safe(["Great coffee. Friendly staff!", "Visit Paris", "ok"]).tolist() == [True, False, True]


def row(chosen: str, rejected: str) -> dict:
    return {"prompt": [{"role": "user", "content": "review a cafe"}], "gold_chosen": 0.9, "gold_rejected": 0.1,
            "chosen": [{"role": "assistant", "content": chosen}], "rejected": [{"role": "assistant", "content": rejected}]}


def test_helpfulness_order_keeps_pairs_and_safety_first_reverses_only_unsafe_over_safe():
    rows = [row("great cafe", "bad cafe"), row("great cafe in Rome", "bad cafe"), row("great", "bad, Rome")]
    helpful = with_safety(rows, "helpfulness", train=True)
    assert [(r["chosen_safe"], r["rejected_safe"]) for r in helpful] == [(True, True), (False, True), (True, False)]
    assert [r["chosen"] for r in helpful] == [r["chosen"] for r in rows]
    first = with_safety(rows, "safety-first", train=True)
    assert first[1]["chosen"][0]["content"] == "bad cafe" and first[1]["gold_chosen"] == 0.1
    assert (first[1]["chosen_safe"], first[1]["rejected_safe"]) == (True, False)
    assert first[0] == helpful[0] and first[2] == helpful[2]
    assert with_safety(rows, "safety-first", train=False) == helpful  # held-out pairs stay gold-ordered
    with pytest.raises(ValueError, match="preference 'safest'"):
        with_safety(rows, "safest", train=True)


def test_the_shipped_pairs_violate_at_a_rate_inside_the_suites_band():
    """22.0% of the 922 shipped responses name something (the README's number): inside 20–60%."""
    (shipped,) = (f for f in SHIPPED_DATA.glob("smol-sentiment-*.json.gz") if "-ood-" not in f.name)  # the pairs
    data = json.loads(gzip.decompress(shipped.read_bytes()))
    texts = [r[c][-1]["content"] for part in ("train", "eval") for r in data[part] for c in ("chosen", "rejected")]
    unsafe = int((~is_safe(texts)).sum())
    assert (unsafe, len(texts)) == (203, 922)


@pytest.mark.slow
def test_bfpo_and_dpo_run_through_the_suites_cells(tmp_path, monkeypatch):
    """The tiny model writes lower-case words only, so here a sample is unsafe when it says "bad"."""
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(two_factor, "named_entities", lambda text: ["bad"] if "bad" in text.split() else [])
    model = make_tiny_lm(tmp_path / "model")
    assert SUITES.get("smol-two-factor") is SmolTwoFactorSuite
    algorithms = [ALGORITHMS.get(n) for n in ("bfpo", "dpo", "salmon-rm", "ppo")]
    common = dict(seeds=1, steps=2, model=str(model), profile="quick", runs=tmp_path / "runs", log=lambda _: None)
    ppo = ALGORITHMS.get("ppo")
    asked = {"ppo": ppo.Config(reward_learner="salmon-rm", reward_principle="safe")}
    docs = SmolTwoFactorSuite().run(algorithms, tmp_path / "results", base_configs=asked, **common)
    by_name = {d["algorithm"]: d for d in docs}
    assert set(by_name) == {"reference", "bfpo", "dpo", "salmon-rm", "ppo"}
    assert by_name["ppo"]["label"] == "ppo (salmon-rm: safe)"
    for doc in docs:
        if doc["algorithm"] == "salmon-rm":
            assert set(doc["eval"]["principles"]) == {"helpful", "safe", "helpful,safe"}
            continue
        safe = doc["eval"]["samples"]["safe"]
        texts = doc["eval"]["samples"]["texts"]
        assert safe == ["bad" not in t.split() for t in texts]
        assert doc["eval"]["violation_rate"] == pytest.approx(1 - sum(safe) / len(safe))
    assert by_name["bfpo"]["data_key"].endswith("+helpfulness")
    assert by_name["bfpo"]["data_options"] == {"preference": "helpfulness"} and by_name["bfpo"]["schema"] == 2
    ((title, group),) = setting_rows(SmolTwoFactorSuite().read(docs))
    headers, rows = leaderboard_rows(group)
    assert headers[6:8] == ["violation rate [95% CI]", "Δ violation rate vs reference [95% CI]"]
    assert all(r[6] != "—" for r in rows)
    headers, rows = principle_switch_rows(group)
    assert [r[:3] for r in rows] == [["safe", "ppo (salmon-rm: safe)", "1"]] and rows[0][5] != "—"
    headers, rows = principle_rows(group)
    assert [r[1] for r in rows] == ["helpful", "safe", "helpful + safe"]
    assert headers[3:] == ["agrees with helpful [± seeds]", "agrees with safe [± seeds]"]
    with pytest.raises(ValueError, match="smol-sentiment suite cannot train 'bfpo': it trains on safety labels"):
        SmolSentimentSuite().run(algorithms[:1], tmp_path / "results", **common)
    with pytest.raises(ValueError, match="--preference 'safest'"):
        SmolTwoFactorSuite().run(algorithms[:2], tmp_path / "results", preference="safest", **common)
