"""A user's own preference file: every refusal names the file's line, row, field and columns, nothing is
written on refusal, the data are checked before any model loads, and TRL's implicit-prompt format and
a column mapping are accepted."""

from __future__ import annotations

import json

import pytest

from prefzoo.algorithms.engine.data import DatasetError
from prefzoo.benchmarks.suites.lm.sources import PreferenceDataset
from prefzoo.benchmarks.suites.lm.user_files import extract_prompt, parse_columns
from tests.helpers import run_cli


def rows(n: int = 20) -> list[dict]:
    return [{"prompt": f"review place {i}", "chosen": f"great food {i}", "rejected": f"cold food {i}"} for i in range(n)]


def jsonl(path, items) -> str:
    path.write_text("\n".join(json.dumps(r) for r in items) + "\n")
    return str(path)


@pytest.fixture(autouse=True)
def hf_home(tmp_path, monkeypatch):
    """An empty Hugging Face cache per test, to show that no refusal writes into it."""
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield home
    assert not home.exists(), "a refused or local file wrote into the Hugging Face cache"


def refused(source: str, **kwargs) -> str:
    with pytest.raises(DatasetError) as info:
        PreferenceDataset(source, **kwargs)
    return str(info.value)


def test_a_missing_field_names_the_line_of_the_file_and_not_the_field_as_present(tmp_path):
    data = rows()
    del data[17]["chosen"]
    message = refused(jsonl(tmp_path / "p.jsonl", data))
    assert "p.jsonl, line 18 (row 17): field 'chosen' is missing or empty (present: prompt, rejected)" in message


def test_csv_headers_of_the_users_own_are_named_with_a_mapping_to_use(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("question,good,bad\n" + "".join(f"q{i},yes {i},no {i}\n" for i in range(12)))
    message = refused(str(path))
    assert ("columns question, good, bad: expected prompt, chosen, rejected (or unpaired rows: prompt, completion, "
            "label); missing prompt, chosen, rejected — "
            "rename them, or map them with --columns prompt=question,chosen=good,rejected=bad") in message
    source = PreferenceDataset(str(path), columns=parse_columns("prompt=question,chosen=good,rejected=bad"))
    assert source._rows[0]["prompt"] == "q0" and source._rows[3]["_where"] == "p.csv, line 5 (row 3)"
    assert "no column 'answer'" in refused(str(path), columns={"prompt": "question", "chosen": "answer",
                                                                "rejected": "bad"})


def test_a_csv_row_with_an_empty_cell_names_its_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("prompt,chosen,rejected\n" + "".join(f"q{i},yes {i},no {i}\n" for i in range(5)) + "q5,,no\n")
    assert "p.csv, line 7 (row 5): field 'chosen' is missing or empty" in refused(str(path))


def test_plain_and_conversational_rows_together_are_refused(tmp_path):
    data = rows(6)
    data[4] = {"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "yes"}],
               "rejected": [{"role": "assistant", "content": "no"}]}
    message = refused(jsonl(tmp_path / "mixed.jsonl", data))
    assert "line 5 (row 4): conversational, but mixed.jsonl, line 1 (row 0) is plain text" in message


def test_invalid_json_empty_files_folders_missing_paths_and_bad_bytes_are_refused_in_one_line(tmp_path):
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text(json.dumps(rows(1)[0]) + "\n" + json.dumps(rows(1)[0]) + "\n{\"prompt\": oops}\n")
    assert "bad.jsonl, line 3: invalid JSON (Expecting value at column 12)" in refused(str(bad_json))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert "empty.jsonl: the file is empty" in refused(str(empty))
    assert "a folder; give a file (.jsonl, .json, .csv, .parquet)" in refused(str(tmp_path))
    assert "nothere.jsonl: no such file" in refused(str(tmp_path / "nothere.jsonl"))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(rows(1)[0]).encode() + b'\n{"prompt": "caf\xff"}\n')
    assert "latin.jsonl, line 2, column 16: byte 0xff is not UTF-8" in refused(str(latin))
    odd = tmp_path / "p.txt"
    odd.write_text("x")
    assert "unsupported file type '.txt'" in refused(str(odd))
    assert "p.jsonl" not in refused(str(odd))
    assert "line 1 (row 0): expected a JSON object with fields prompt, chosen, rejected, got list" in refused(
        jsonl(tmp_path / "list.jsonl", [[1, 2]]))


@pytest.mark.slow
def test_an_unreachable_hub_id_is_one_message():
    message = refused("nobody-here/no-such-dataset")
    assert message.startswith("nobody-here/no-such-dataset: not a local file, and the hub dataset could not be loaded")


def test_trls_implicit_prompt_format_is_accepted_as_trl_extracts_it(tmp_path):
    from trl.data_utils import extract_prompt as trl_extract_prompt

    convo = {"chosen": [{"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Blue."}],
             "rejected": [{"role": "user", "content": "Sky?"}, {"role": "assistant", "content": "Green."}]}
    text = {"chosen": "The sky is blue.", "rejected": "The sky is green."}
    for example in (convo, text):
        ours = extract_prompt(example)
        assert {k: ours[k] for k in ("prompt", "chosen", "rejected")} == trl_extract_prompt(example)
    source = PreferenceDataset(jsonl(tmp_path / "implicit.jsonl", [convo] * 3))
    assert source._rows[0]["prompt"] == [{"role": "user", "content": "Sky?"}]


def test_a_bad_file_is_refused_before_any_model_loads(tmp_path):
    data = rows()
    data[2]["rejected"] = data[2]["chosen"]
    out = run_cli("bench", "--suite", "preference-dataset", "--dataset", jsonl(tmp_path / "p.jsonl", data),
                  "--algorithms", "dpo", "--model", str(tmp_path / "no-such-model"), "--results",
                  str(tmp_path / "results"), cwd=tmp_path)
    assert out.returncode == 2
    assert "p.jsonl, line 3 (row 2): fields 'chosen' and 'rejected' are identical" in out.stdout
    assert "no-such-model" not in out.stdout and not (tmp_path / "results").exists()


BOM = "\ufeff"  # what Windows tools and Excel's "CSV UTF-8" write first


def test_a_byte_order_mark_is_encoding_in_every_text_format(tmp_path):
    data = rows(40)
    (tmp_path / "p.jsonl").write_text(BOM + "\n".join(json.dumps(r) for r in data) + "\n", encoding="utf-8")
    (tmp_path / "p.json").write_text(BOM + json.dumps(data), encoding="utf-8")
    (tmp_path / "p.csv").write_text(BOM + "prompt,chosen,rejected\n"
                                    + "".join(f"{r['prompt']},{r['chosen']},{r['rejected']}\n" for r in data),
                                    encoding="utf-8")
    for name in ("p.jsonl", "p.json", "p.csv"):
        source = PreferenceDataset(str(tmp_path / name))
        # the file's own prompts, not the implicit-prompt path's shared start of chosen and rejected
        assert [r["prompt"] for r in source._rows] == [r["prompt"] for r in data], name
        assert [r["chosen"] for r in source._rows] == [r["chosen"] for r in data], name


def test_after_a_byte_order_mark_the_bad_row_and_byte_are_still_named(tmp_path):
    data = rows()
    data[16]["chosen"] = ""
    path = tmp_path / "p.jsonl"
    path.write_text(BOM + "\n".join(json.dumps(r) for r in data) + "\n", encoding="utf-8")
    assert "p.jsonl, line 17 (row 16), field 'chosen': empty text" in refused(str(path))
    table = tmp_path / "p.csv"
    table.write_text(BOM + "prompt,chosen,rejected\n" + "".join(f"q{i},yes {i},no {i}\n" for i in range(5))
                     + "q5,,no\n", encoding="utf-8")
    assert "p.csv, line 7 (row 5): field 'chosen' is missing or empty" in refused(str(table))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(BOM.encode() + b'{"prompt": "caf\xff"}\n')
    assert "latin.jsonl, line 1, column 16: byte 0xff is not UTF-8" in refused(str(latin))
