"""Where results, adapters and the leaderboard go: the project's folders (the working directory, or the
folder of the nearest ``prefzoo.toml``), never the installed package."""

from __future__ import annotations

from pathlib import Path

import pytest

import prefzoo
from prefzoo.benchmarks.harness.results import project_paths, project_root
from tests.helpers import run_cli

PACKAGE = Path(prefzoo.__file__).resolve().parent


def snapshot(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_without_a_project_file_the_working_directory_is_the_project(tmp_path):
    paths = project_paths(tmp_path)
    assert paths == {"results": tmp_path / "results", "runs": tmp_path / "runs", "leaderboard": tmp_path / "leaderboard"}


def test_the_nearest_project_file_sets_the_folders(tmp_path):
    (tmp_path / "prefzoo.toml").write_text('[paths]\nresults = "board/results"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert project_root(deep) == tmp_path.resolve()
    assert project_paths(deep)["results"] == tmp_path.resolve() / "board" / "results"
    assert project_paths(deep)["runs"] == tmp_path.resolve() / "runs"
    (tmp_path / "prefzoo.toml").write_text('[paths]\nresult = "x"\n')
    with pytest.raises(ValueError, match=r"\[paths\] has no setting 'result'"):
        project_paths(deep)


@pytest.mark.slow
def test_bench_from_an_empty_folder_writes_there_and_nothing_into_the_package(tmp_path):
    before = snapshot(PACKAGE / "leaderboard")
    out = run_cli("bench", "--suite", "bandit", "--algorithms", "dpo", "--seeds", "1", "--steps", "50",
                  "--strengths", "0.5", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert list((tmp_path / "results" / "bandit" / "dpo").glob("seed0-*.json"))
    board = run_cli("leaderboard", cwd=tmp_path)
    assert board.returncode == 0, board.stdout + board.stderr
    assert (tmp_path / "leaderboard" / "README.md").exists() and (tmp_path / "leaderboard" / "index.html").exists()
    assert snapshot(PACKAGE / "leaderboard") == before
