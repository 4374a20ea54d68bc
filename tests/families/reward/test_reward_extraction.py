"""Reward extraction by inverse RL: the max-margin and logistic losses by hand, and the extraction on a
tiny model through the suite — from a trained DPO policy, judged on held-out pairs, reported per policy,
and used as PPO's reward model."""

from __future__ import annotations

import json
import math

import pytest
import torch

from prefzoo.benchmarks.harness.results import load_results
from prefzoo.registry import ALGORITHMS
from tests.helpers import interval, lm_result, lm_results, run_cli
from tests.tiny_lm import make_tiny_lm

IRL = ALGORITHMS.get("irl")


def test_max_margin_and_logistic_losses_by_hand():
    policy, reference = torch.tensor([2.0, 0.0, 1.0]), torch.tensor([0.5, 1.5, 1.0])
    out = IRL().loss(policy, reference, torch.ones(3))  # Δ = 1.5, −1.5, 0
    assert out.losses.tolist() == pytest.approx([-1.5, 3.0, 0.0])  # −Δ ahead, −2Δ behind
    logistic = IRL(IRL.Config(loss="logistic")).loss(policy, reference, torch.ones(3)).losses
    assert logistic.tolist() == pytest.approx([math.log1p(math.exp(-1.5)), math.log1p(math.exp(1.5)), math.log(2)])
    with pytest.raises(ValueError, match="policy = 'bt'"):
        IRL.Config(policy="bt")  # a reward learner has no policy to extract from


def test_the_policy_config_names_a_non_default_policy_and_a_run_fills_it_in():
    from prefzoo.algorithms.framework.config import ConfigError
    from prefzoo.benchmarks.suites.lm.cells import _complete_configs

    dpo, ppo = ALGORITHMS.get("dpo"), ALGORITHMS.get("ppo")
    assert IRL.Config(policy_config='{"beta": 0.2}').policy_settings() == dpo.Config(beta=0.2)
    assert IRL.Config(policy_config='{"beta": 0.1}') == IRL.Config()  # the default: one way, one hash
    assert "policy_config" not in IRL.Config().to_dict()  # hashes of earlier extractions stay
    with pytest.raises(ConfigError, match="no field 'bta'; did you mean 'beta'"):
        IRL.Config(policy_config='{"bta": 0.2}')
    # irl on PPO's policy reads the PPO this run trains on ids' reward
    configs = _complete_configs({"ppo": ppo.Config(reward_learner="ids"), "irl": IRL.Config(policy="ppo")})
    assert configs["irl"].policy_config == '{"reward_learner": "ids"}'
    assert configs["irl"].policy_settings() == configs["ppo"]
    # PPO on irl's reward trains the irl that reads this run's DPO at β = 0.2: folded in dependency order
    configs = _complete_configs({"ppo": ppo.Config(reward_learner="irl"), "irl": IRL.Config(),
                                 "dpo": dpo.Config(beta=0.2)})
    assert configs["ppo"].learner_config() == configs["irl"] == IRL.Config(policy_config='{"beta": 0.2}')
    with pytest.raises(ValueError, match="ppo → irl → ppo name each other in a cycle"):
        _complete_configs({"ppo": ppo.Config(reward_learner="irl"), "irl": IRL.Config(policy="ppo")})
    with pytest.raises(ValueError, match="two configs for ppo"):
        _complete_configs({"ppo": ppo.Config(reward_learner="ids"),
                           "irl": IRL.Config(policy="ppo", policy_config='{"reward_learner": "ser"}')})


@pytest.mark.slow
def test_extraction_from_a_trained_policy_through_the_suite(tmp_path, monkeypatch):
    tiny = make_tiny_lm(tmp_path / "model")
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    args = ["bench", "--suite", "smol-sentiment", "--steps", "2", "--seeds", "1", "--model", str(tiny),
            "--results", str(tmp_path / "results"), "--plot", str(tmp_path / "p.png")]
    early = run_cli(*args, "--algorithms", "irl", cwd=tmp_path)
    assert early.returncode == 2 and "run --algorithms dpo first" in early.stdout.replace("\n", " ")
    # irl and PPO-on-irl are listed first but run after DPO, whose policy (at this run's β) they read.
    out = run_cli(*args, "--algorithms", "irl,ppo,dpo", "--set", "ppo.reward_learner=irl", "--set", "dpo.beta=0.2",
                  cwd=tmp_path, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.index("dpo seed 0: trained") < out.stdout.index("irl seed 0: trained")
    docs = {d["algorithm"]: d for d in load_results(tmp_path / "results", "smol-sentiment")}
    irl, ppo = docs["irl"], docs["ppo"]
    assert irl["train"]["demonstrations"] == 16 and irl["train"]["oracle_queries"] == 0  # 2 steps × 8 prompts
    assert 0 <= irl["eval"]["reward"]["pair_accuracy"] <= 1 and irl["config"]["policy"] == "dpo"
    assert irl["config"]["policy_config"] == '{"beta": 0.2}'  # dpo's config in this run
    assert json.loads(ppo["config"]["reward_learner_config"]) == {"policy_config": '{"beta": 0.2}'}  # that irl's
    assert ppo["label"] == 'ppo (irl[policy_config={"beta": 0.2}])'
    assert ppo["train"]["reward_learning"]["demonstrations"] == 16
    assert "dpo: 16 demonstrations sampled from its policy and from the reference" in out.stdout
    board = run_cli("leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "board"),
                    cwd=tmp_path)
    assert board.returncode == 0, board.stderr
    readme = (tmp_path / "board" / "README.md").read_text()
    assert "What each policy learned to want" in readme
    dpo_accuracy = docs["dpo"]["eval"]["pair_accuracy"]["mean"]
    assert docs["dpo"]["label"] == "dpo [beta=0.2]"  # a row away from its default strength says so
    assert f"| dpo [beta=0.2] | {dpo_accuracy:.3f} | {irl['eval']['reward']['pair_accuracy']:.3f} |" in readme


def test_every_policy_gets_a_row_with_its_implicit_and_extracted_reward():
    from prefzoo.benchmarks.suites.lm.reward_report import extracted_reward_rows

    def doc(name, config, seed=0, accuracy=None, reward=None, label=None):
        evaluation = {"gold_reward": interval(0.5)}
        if accuracy is not None:
            evaluation["pair_accuracy"] = interval(accuracy)
        if reward is not None:
            evaluation = {"reward": {"pairs": 8, "pair_accuracy": reward, "pair_accuracy_ci": [0, 1], "correlation": 0.2,
                                     "correlation_ci": [0, 1], "ece": 0.1}}
        return lm_result(algorithm=name, label=label or name, config=config, hash=label or name, seed=seed,
                         train={"demonstrations": 16} if reward is not None else {}, eval=evaluation)

    ppo_default = ALGORITHMS.get("ppo").Config().to_dict()
    docs = [doc("dpo", {}, 0, 0.70), doc("dpo", {}, 1, 0.60), doc("ppo", ppo_default, label="ppo (bt)"),
            doc("ppo", {**ppo_default, "reward_learner": "ser"}, label="ppo (ser)"), doc("grpo", {}),
            doc("irl", {"policy": "ppo", "loss": "max_margin"}, 0, reward=0.75),
            doc("irl", {"policy": "ppo", "loss": "max_margin"}, 1, reward=0.65),
            lm_result(algorithm="reference", family="reference", eval={"gold_reward": interval(0.3)})]
    headers, rows = extracted_reward_rows(lm_results(*docs))
    assert [r[0] for r in rows] == ["ppo (bt)", "dpo", "grpo", "ppo (ser)"]  # extracted first, then by implicit
    assert rows[0][1:] == ["— (none in closed form)", rows[0][2], "0.200 ± 0.000", "irl (max_margin)", "1 / 2"]
    assert rows[0][2].startswith("0.700 ± ")  # the extracted reward's accuracy over its two seeds
    assert rows[1][1].startswith("0.650 ± ") and rows[1][2:5] == ["—"] * 3 and rows[1][5] == "2 / 0"
    assert rows[3][2] == "—"  # irl reads the default config's policy: not ppo on ser's reward
    # extraction from ppo on ser's reward (irl's policy_config), and a second extractor of ppo (bt)
    docs += [doc("irl", {"policy": "ppo", "loss": "max_margin", "policy_config": '{"reward_learner": "ser"}'},
                 0, reward=0.55, label="irl-ser"),
             doc("irl", {"policy": "ppo", "loss": "logistic"}, 0, reward=0.60, label="irl-logistic")]
    rows = extracted_reward_rows(lm_results(*docs))[1]
    assert [(r[0], r[2], r[4]) for r in rows[:4]] == [
        ("ppo (bt)", "0.600", "irl (logistic)"), ("ppo (bt)", rows[1][2], "irl (max_margin)"),
        ("ppo (ser)", "0.550", "irl (max_margin)"), ("dpo", "—", "—")]
    assert extracted_reward_rows(lm_results(doc("grpo", {}))) == ([], [])  # nothing learned in closed form or extracted
    # a result of an algorithm this installation no longer has still gets its implicit reward's row
    assert extracted_reward_rows(lm_results(doc("gone-plugin", {}, 0, 0.6)))[1] == [["gone-plugin", "0.600", "—", "—", "—", "1 / 0"]]
