"""The typed result document: every kind of committed result file reads through the migration, and a
file that does not match its type is refused with its path and field."""

import json
import shutil
from pathlib import Path

import pytest

from prefzoo.benchmarks.harness.documents import SCHEMA_VERSION, DocumentError
from prefzoo.benchmarks.harness.results import result_files
from prefzoo.benchmarks.suites.bandit.documents import BanditResult
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.leaderboard.render import render
from prefzoo.registry import SUITES

COPIES = Path(__file__).parent / "result_files"
"""A copy of one committed result file of each kind (suite, fields present, nesting), schema 1."""


def _copies():
    return list(result_files(COPIES))


def test_copies_cover_every_suite_and_part():
    files = _copies()
    assert {raw["suite"] for _, raw in files} == {"bandit", "smol-sentiment", "smol-two-factor"}
    bandit_parts = {part for _, raw in files if raw["suite"] == "bandit"
                    for part in ("datasets", "online", "rl", "reward") if part in raw}
    assert bandit_parts == {"datasets", "online", "rl", "reward"}
    assert all("schema" not in raw for _, raw in files)  # written before the schema existed


@pytest.mark.parametrize("path", [p for p, _ in _copies()], ids=lambda p: str(p.relative_to(COPIES)))
def test_every_kind_of_committed_file_migrates_and_reads(path):
    raw = json.loads(path.read_text())
    suite = SUITES.get(raw["suite"])()
    [doc] = suite.read([(path, raw)])
    assert isinstance(doc, suite.Document) and doc.schema == SCHEMA_VERSION
    assert (doc.algorithm, doc.seed, doc.hash) == (raw["algorithm"], raw["seed"], raw["hash"])
    assert doc.config == raw["config"] and doc.settings == raw["settings"]  # the identity, as written
    again = suite.Document.parse(json.loads(json.dumps(suite.Document.migrate(raw))))
    assert again == doc  # migrating a migrated document changes nothing


def test_two_factor_preference_comes_from_the_data_key_of_schema_1():
    prefs = {LMResult.parse(raw).data_options["preference"] for _, raw in _copies() if raw["suite"] == "smol-two-factor"}
    assert prefs == {"helpfulness", "safety-first"}
    sentiment = next(raw for _, raw in _copies() if raw["suite"] == "smol-sentiment")
    assert LMResult.parse(sentiment).data_options == {}


def test_reports_read_typed_fields():
    docs = {p.relative_to(COPIES).as_posix(): raw for p, raw in _copies()}
    reward = LMResult.parse(docs["smol-sentiment/bt/seed0-2992741e.json"])
    assert reward.eval.reward.pair_accuracy == docs["smol-sentiment/bt/seed0-2992741e.json"]["eval"]["reward"]["pair_accuracy"]
    assert reward.train.labelled_pairs is not None and reward.eval.samples is None
    online = BanditResult.parse(docs["bandit/online-dpo/seed0-290dfc17.json"])
    assert online.online.regret == docs["bandit/online-dpo/seed0-290dfc17.json"]["online"]["regret"]
    assert online.tuning.candidates[online.tuning.selected].config


def _raw(name: str) -> dict:
    return json.loads((COPIES / name).read_text())


def test_an_unknown_or_renamed_field_is_refused_with_the_file_and_field():
    raw = _raw("smol-sentiment/dpo/seed0-d69923df.json")
    raw["eval"]["gold"] = raw["eval"].pop("gold_reward")  # a renamed field
    with pytest.raises(DocumentError, match=r"somewhere\.json: not a valid LMResult \(eval\.gold: Unexpected"):
        LMResult.parse(raw, "somewhere.json")
    raw = _raw("bandit/online-dpo/seed0-290dfc17.json")
    del raw["online"]["regret"]
    with pytest.raises(DocumentError, match=r"online\.regret: Field required"):
        BanditResult.parse(raw)


def test_a_newer_schema_is_refused():
    raw = {**_raw("bandit/bt/seed0-1c0574f2.json"), "schema": SCHEMA_VERSION + 1}
    with pytest.raises(DocumentError, match="newer than this prefzoo reads"):
        BanditResult.parse(raw, "x.json")


def test_a_writer_that_drifts_from_the_type_fails_before_its_file_exists():
    raw = _raw("bandit/bt/seed0-1c0574f2.json")
    assert BanditResult.checked(raw) == raw
    with pytest.raises(DocumentError, match="reward.labelled"):
        BanditResult.checked({**raw, "reward": {**raw["reward"], "labelled": "sixty"}})


def test_the_leaderboard_renders_from_the_copies(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(COPIES, results)
    readme, _ = render(results, tmp_path / "board")
    text = readme.read_text()
    assert "## Bandit suite" in text and "## smol-sentiment" in text and "## smol-two-factor" in text
    assert "Training pairs ordered by safety first" in text  # the preference, from data_options
