import json

import pytest

from prefzoo.benchmarks.harness.results import load_results, result_path, run_hash, write_json_atomic


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = result_path(tmp_path, "bandit", "dpo", 0, "abcd1234")
    write_json_atomic(path, {"suite": "bandit", "value": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"suite": "bandit", "value": object()})
    assert json.loads(path.read_text()) == {"suite": "bandit", "value": 1}
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_run_hash_depends_on_config_and_settings():
    assert run_hash({"beta": 0.1}, {"steps": 10}) == run_hash({"beta": 0.1}, {"steps": 10})
    assert run_hash({"beta": 0.1}, {"steps": 10}) != run_hash({"beta": 0.1}, {"steps": 11})
    assert run_hash({"beta": 0.1}, {"steps": 10}) != run_hash({"beta": 0.2}, {"steps": 10})


def test_a_corrupt_result_file_is_named(tmp_path):
    path = result_path(tmp_path, "bandit", "dpo", 0, "abcd1234")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="seed0-abcd1234.json: not a valid result file"):
        list(load_results(tmp_path))
