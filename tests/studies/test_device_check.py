"""The prepared device run in its CPU mode (tiny shapes, the embedded model's shipped pairs): every part runs
and lands in the one table, so the script a lent GPU runs cannot rot."""

import pytest

from prefzoo.benchmarks.studies import device_check


@pytest.mark.slow
def test_every_part_runs_on_a_cpu_and_prints_one_table(tmp_path, capsys):
    assert device_check.main(["--cpu", "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "speed: ok" in table and "sampling: ok" in table and "families: ok" in table
    for row in ("DPO step, prefzoo | checkpointing off", "DPO step, TRL | checkpointing on", "under a 24GiB cap",
                "sampling, merged copy", "dpo (pairwise)", "bt (reward-learning)", "every algorithm of"):
        assert row in table, row
    assert (tmp_path / "speed.json").exists() and list((tmp_path / "results").rglob("seed0-*.json"))


def test_a_part_that_fails_is_a_row_and_the_exit_status(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(device_check, "run_part", lambda name, argv, out, timeout: (False, 1.0))
    assert device_check.main(["--cpu", "--out", str(tmp_path), "--parts", "speed,sampling"]) == 1
    assert "speed: FAILED or timed out" in capsys.readouterr().out
