"""The critic-free RL algorithms on the online bandit: their own rewards, advantages and losses raise the
true reward far above the reference's, and the bandit suite tables them beside the online family."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prefzoo.benchmarks.suites.bandit.rl import RLBanditSettings, run_rl_bandit
from prefzoo.cli import app
from prefzoo.registry import ALGORITHMS

CRITIC_FREE = [n for n in ALGORITHMS.names()
               if ALGORITHMS.get(n).family.value == "rl-with-reward" and not ALGORITHMS.get(n).uses_critic]


def test_the_critic_free_algorithms_are_registered():
    assert {"rloo", "grpo", "reinforce-pp"} <= set(CRITIC_FREE)


@pytest.mark.parametrize("name", CRITIC_FREE)
def test_every_seed_ends_far_above_the_reference(name):
    settings = RLBanditSettings(rounds=60, seeds=3)
    reference = (settings.bandit().reference_logp().exp() * settings.bandit().true_rewards()).sum().item()
    run = run_rl_bandit(ALGORITHMS.get(name), settings=settings)
    assert reference == pytest.approx(0.11, abs=0.01)
    assert (run.final_reward > reference + 0.3).all(), run.final_reward
    assert (run.kl > 0).all() and run.reward_queries == 60 * 8
    assert len(run.curve_rounds) == run.curve.shape[0] and run.curve.shape[1] == 3


def test_the_bandit_suite_tables_rl_rows_and_says_why_ppo_is_not_run(tmp_path):
    out = CliRunner().invoke(app, ["bench", "--suite", "bandit", "--algorithms", "rloo,ppo", "--seeds", "2",
                                   "--strengths", "0.05", "--results", str(tmp_path / "r"),
                                   "--plot", str(tmp_path / "p.png")], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "ppo: not run on the bandit" in out.output and "bandit-rl" in out.output
    board = CliRunner().invoke(app, ["leaderboard", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "b")])
    assert board.exit_code == 0, board.output
    assert "### Critic-free RL on the same bandit" in (tmp_path / "b" / "README.md").read_text()
