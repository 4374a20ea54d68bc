"""The command line in-process (typer's runner): listing, benchmark errors, leaderboard rendering."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from prefzoo.benchmarks.harness.results import load_results
from prefzoo.cli import app

runner = CliRunner()


def test_list_shows_the_six_pairwise_algorithms_with_paper_and_origin():
    result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name, paper, family in [
            ("dpo", "2305.18290", "pairwise"), ("ipo", "2310.12036", "pairwise"), ("cdpo", "Mitchell 2023", "pairwise"),
            ("robust-dpo", "2403.00409", "pairwise"), ("slic-hinge", "2305.10425", "pairwise"),
            ("simpo", "2405.14734", "pairwise"), ("online-dpo", "2402.04792", "online-preference"),
            ("xpo", "2405.21046", "online-preference"), ("bt", "Bradley & Terry 1952", "reward-learning"),
            ("ids", "2401.16335", "reward-learning"), ("ser", "2411.00418", "reward-learning"),
            ("irl", "2410.12491", "reward-learning")]:
        line = next(line for line in result.output.splitlines() if f"│ {name} " in line)
        assert family in line and paper in line and "built-in" in line


def test_list_configs_shows_field_docs():
    result = runner.invoke(app, ["list", "--configs"], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "tau=0.1: τ, the regularisation towards π_ref" in result.output


def test_bench_refuses_unknown_algorithm_with_a_suggestion(tmp_path):
    result = runner.invoke(app, ["bench", "--algorithms", "dop", "--results", str(tmp_path)])
    suggestion = result.output.split("did you mean")[1].split("?")[0]
    assert result.exit_code == 2 and "'dpo'" in suggestion
    assert not list(tmp_path.iterdir())


def test_bench_refuses_an_invalid_override_naming_field_and_value(tmp_path):
    result = runner.invoke(app, ["bench", "--algorithms", "cdpo", "--set", "cdpo.epsilon=0.7", "--results", str(tmp_path)])
    assert result.exit_code == 2 and "ConservativeDPO.Config.epsilon = 0.7: must be < 0.5" in result.output
    result = runner.invoke(app, ["bench", "--algorithms", "dpo", "--set", "ipo.tau=1", "--results", str(tmp_path)])
    assert result.exit_code == 2 and "'ipo', which this run does not include" in result.output
    assert not list(tmp_path.iterdir())


def test_a_folder_given_as_the_plot_is_refused_before_any_cell_runs(tmp_path):
    (tmp_path / "plots").mkdir()
    result = runner.invoke(app, ["bench", "--suite", "bandit", "--algorithms", "dpo", "--results", str(tmp_path / "r"),
                                 "--plot", str(tmp_path / "plots")], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and f"--plot {tmp_path / 'plots'}: a folder" in result.output
    assert not (tmp_path / "r").exists()


def test_unknown_suite_is_refused(tmp_path):
    result = runner.invoke(app, ["bench", "--suite", "bandits", "--results", str(tmp_path)])
    assert result.exit_code == 2 and "did you mean 'bandit'" in result.output


def test_bench_then_leaderboard(tmp_path):
    results, board = tmp_path / "results", tmp_path / "board"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"cdpo": {"epsilon": 0.2}}))
    result = runner.invoke(app, ["bench", "--suite", "bandit", "--algorithms", "dpo,cdpo", "--steps", "200",
                                 "--seeds", "2", "--strengths", "0.5", "--config", str(cfg), "--set", "cdpo.beta=0.3",
                                 "--results", str(results), "--plot", str(tmp_path / "b.png")],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    docs = list(load_results(results, "bandit"))
    assert len(docs) == 4  # 2 algorithms × 1 strength × 2 seeds
    cdpo = next(d for d in docs if d["algorithm"] == "cdpo")
    # the sweep sets the strength field on top of the file and --set values
    assert cdpo["config"] == {"beta": 0.5, "epsilon": 0.2}
    assert (tmp_path / "b.png").stat().st_size > 10_000
    assert "dpo" in result.output and "β=0.5" in result.output

    result = runner.invoke(app, ["leaderboard", "--results", str(results), "--out", str(board)])
    assert result.exit_code == 0, result.output
    readme = (board / "README.md").read_text()
    assert "## Bandit suite" in readme and "| cdpo | β=0.5 |" in readme  # the compact reading of the strengths
    assert "| cdpo | β=0.5 | 200 | 2 |" in (board / "bandit-final-probabilities.md").read_text()  # every row
    assert (board / "bandit.png").exists()
    # the leaderboard is a pure function of the result files
    first = readme
    runner.invoke(app, ["leaderboard", "--results", str(results), "--out", str(board)])
    assert (board / "README.md").read_text() == first


def test_leaderboard_without_results(tmp_path):
    result = runner.invoke(app, ["leaderboard", "--results", str(tmp_path / "none"), "--out", str(tmp_path)])
    assert result.exit_code == 0 and "No results yet" in (tmp_path / "README.md").read_text()


def test_suites_lists_every_suite_with_its_options():
    result = runner.invoke(app, ["suites"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for name in ("bandit", "smol-sentiment", "preference-dataset"):
        assert name in result.output
    assert "--dataset (required)" in result.output and "--train" in result.output and "--strengths" in result.output


def test_one_seed_is_not_shown_as_a_zero_interval(tmp_path):
    result = runner.invoke(app, ["bench", "--suite", "bandit", "--algorithms", "dpo", "--steps", "50", "--seeds", "1",
                                 "--strengths", "0.5", "--results", str(tmp_path / "r"), "--plot", str(tmp_path / "p.png")],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "(1 seed)" in result.output and "± 0.0000" not in result.output


def test_steps_is_refused_for_the_parts_of_the_bandit_it_does_not_set(tmp_path):
    result = runner.invoke(app, ["bench", "--suite", "bandit", "--algorithms", "dpo,xpo", "--steps", "50",
                                 "--results", str(tmp_path / "r")], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "does not apply to xpo: add --family pairwise, or drop --steps" in " ".join(result.output.split())
    assert not (tmp_path / "r").exists()
