"""salmon-rm (SALMON, Sun et al. 2023): the relabelling rule by hand, its draws' distribution, the
principles' prefix read the same way in training and in scoring, and the learner through the reward and
RL runners with a principle as the RL setting."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from prefzoo.algorithms.engine.principles import (InstructedRewardModel, prefix_ids, principle_names, principle_text,
                                                  relabelled_pairs)
from prefzoo.algorithms.engine.reward_model import RewardModel
from prefzoo.algorithms.engine.runners import run_family
from prefzoo.algorithms.salmon_rm import InstructableReward
from prefzoo.benchmarks.suites.two_factor.suite import PRINCIPLES, SmolTwoFactorSuite
from prefzoo.registry import ALGORITHMS, SUITES
from tests.engine.test_runners import context, tiny  # noqa: F401 (the module's tiny-model fixture)
from tests.helpers import lm_result, lm_results

RM = InstructableReward()


def test_variance_is_over_both_orders_of_every_pair():
    # helpful: every pair +1 → E[s²] = 1; safe: 2 of 4 pairs differ → 0.5
    assert RM.variances([[1, 1], [1, 0], [1, -1], [1, 0]]) == [1.0, 0.5]


@pytest.mark.parametrize("principles, negated, expected", [
    ((0, 1), (False, False), 1),   # normalised (1/1, 1/0.25) = (1, 4): safety dominates, +
    ((0, 1), (False, True), -1),   # (1, −4): the negated safety principle dominates, −
    ((0,), (False,), 1),           # helpfulness alone
    ((0,), (True,), -1),           # its negation
    ((1,), (False,), 1),
])
def test_the_dominant_listed_principle_decides(principles, negated, expected):
    assert RM.preference([1.0, 1.0], [1.0, 0.25], principles, negated) == expected


def test_no_preference_and_ties():
    assert RM.preference([1.0, 0.0], [1.0, 0.25], (1,), (False,)) == 0  # safety alone cannot tell them apart
    # |1/1| = |0.25/0.25|: the first listed wins (np.argmax), here the negated safety principle
    assert RM.preference([1.0, 0.25], [1.0, 0.25], (1, 0), (True, False)) == -1
    assert RM.preference([1.0, 0.25], [1.0, 0.25], (0, 1), (False, True)) == 1


def test_draws_follow_the_geometric_count_half_negation_and_the_label_noise():
    learner = InstructableReward(InstructableReward.Config(max_principles=2))
    rng = random.Random(0)
    draws = [learner.draw([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], rng) for _ in range(20_000)]
    counts = [len(d.principles) for d in draws]
    # k ~ Geometric(0.2) redrawn while > 2: P(k = 1) = 0.2 / (0.2 + 0.16) = 0.556
    assert abs(counts.count(1) / len(counts) - 0.2 / 0.36) < 0.015 and max(counts) == 2
    negated = [n for d in draws for n in d.negated]
    assert abs(sum(negated) / len(negated) - 0.5) < 0.015
    # one listed principle: the label is its sign, flipped by the 10% noise
    single = [d for d in draws if len(d.principles) == 1]
    wrong = sum(d.first_preferred == d.negated[0] for d in single) / len(single)
    assert abs(wrong - 0.1) < 0.015
    plain = InstructableReward(InstructableReward.Config(negation=0.0))
    assert not any(n for _ in range(200) for n in plain.draw([1.0, 1.0], [1.0, 1.0], rng).negated)
    assert "negation" not in InstructableReward.Config().to_dict()  # the default keeps earlier results' hashes


def test_relabelled_pairs_put_the_drawn_preferred_response_first_after_the_principles(tiny, tmp_path):  # noqa: F811
    ctx = context(tiny, tmp_path)
    rows = list(ctx.train_data)
    noiseless = InstructableReward(InstructableReward.Config(label_noise=0.0))
    out = relabelled_pairs(noiseless, rows, PRINCIPLES, ctx.tokenizer, passes=3, seed=1)
    scores = [[p.score(r) for p in PRINCIPLES.values()] for r in rows]
    variances, rng, expected = noiseless.variances(scores), random.Random(1), []
    for _ in range(3):
        for row, s in zip(rows, scores):
            draw = noiseless.draw(s, variances, rng)
            if draw is not None:
                expected.append((row, draw))
    assert len(out) == len(expected) > len(rows)
    names = list(PRINCIPLES)
    for got, (row, draw) in zip(out, expected):
        text = principle_text(PRINCIPLES, [names[d] for d in draw.principles], draw.negated)
        assert got["prompt_ids"] == prefix_ids(ctx.tokenizer, text) + row["prompt_ids"]
        first, second = (row["chosen_ids"], row["rejected_ids"])[::1 if draw.first_preferred else -1]
        assert (got["chosen_ids"], got["rejected_ids"]) == (first, second)


def test_an_asked_model_scores_what_training_reads(tiny, tmp_path):  # noqa: F811
    ctx = context(tiny, tmp_path)
    rows = list(ctx.train_data)[:4]
    model = RewardModel.create(ctx.model, ctx.model_settings, adapter="rm-test")
    try:
        with torch.no_grad():
            model.head.weight.normal_()
        prefix = prefix_ids(ctx.tokenizer, principle_text(PRINCIPLES, ["safe"]))
        inline = [{**r, "prompt_ids": prefix + r["prompt_ids"]} for r in rows]
        plain = model.score_pairs(inline, ctx.pad_id)
        asked = InstructedRewardModel.asking(model, prefix).score_pairs(rows, ctx.pad_id)
        unasked = model.score_pairs(rows, ctx.pad_id)
    finally:
        ctx.model.delete_adapter("rm-test")
    for a, b in zip(plain, asked):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(unasked[0], asked[0])  # the principle is read


def test_principle_names():
    assert principle_names("", PRINCIPLES) == ["helpful", "safe"]
    assert principle_names("safe", PRINCIPLES) == ["safe"]
    with pytest.raises(ValueError, match="principle 'harmless': this suite's principles are helpful, safe"):
        principle_names("harmless", PRINCIPLES)


def test_the_reward_cell_reports_agreement_under_each_principle(tiny, tmp_path):  # noqa: F811
    ctx = dataclasses.replace(context(tiny, tmp_path), reward_epochs=2)
    result = run_family(InstructableReward(), ctx)
    agreement = result.evaluation["principles"]
    assert set(agreement) == {"helpful", "safe", "helpful,safe"}
    assert all(set(v) == {"helpful", "safe"} for v in agreement.values())
    assert result.extras["relabelled_examples"] > 0 and 0 <= result.evaluation["reward"]["pair_accuracy"] <= 1


def test_rl_asks_the_reward_model_about_its_principle(tiny, tmp_path):  # noqa: F811
    ppo = ALGORITHMS.get("ppo")
    config = ppo.Config(reward_learner="salmon-rm", reward_principle="safe")
    assert config.to_dict()["reward_principle"] == "safe" and "reward_principle" not in ppo.Config().to_dict()
    assert ppo.Config.from_overrides(["reward_learner=salmon-rm", "reward_principle=safe"]) == config  # --set
    ctx = dataclasses.replace(context(tiny, tmp_path), reward_epochs=2)
    result = run_family(ppo(config), ctx)
    assert result.label == "ppo (salmon-rm: safe)" and len(result.extras["curve"]) == ctx.train.steps


def test_a_principle_needs_a_learner_and_a_suite_that_take_one(tiny, tmp_path):  # noqa: F811
    ppo = ALGORITHMS.get("ppo")
    ctx = context(tiny, tmp_path)
    with pytest.raises(ValueError, match="'bt' does not take any"):
        run_family(ppo(ppo.Config(reward_principle="safe")), ctx)
    with pytest.raises(ValueError, match="principle 'kind'"):
        run_family(ppo(ppo.Config(reward_learner="salmon-rm", reward_principle="kind")), ctx)
    with pytest.raises(ValueError, match="smol-two-factor does"):
        run_family(InstructableReward(), dataclasses.replace(ctx, principles=None))


def test_suites_that_cannot_train_it_say_why():
    from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite

    assert "principles" in SmolSentimentSuite().cannot_train(InstructableReward)
    suite = SmolTwoFactorSuite()
    assert suite.cannot_train(InstructableReward) is None
    assert suite.cannot_train(InstructableReward, preference="helpfulness") is None
    assert "--preference safety-first" in suite.cannot_train(InstructableReward, preference="safety-first")


def test_the_leaderboard_does_not_call_missing_what_a_setting_cannot_train():
    from prefzoo.benchmarks.suites.lm.section import missing_algorithms
    from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite

    def missing(group):
        return missing_algorithms(lm_results(*group), SUITES.get(group[0]["suite"])())

    def group(suite, key):  # schema-1 documents: smol-two-factor's preference is read from the data key
        return [lm_result(suite=suite, algorithm="dpo", family="pairwise", data_key=key),
                lm_result(suite=suite, algorithm="bt", family="reward-learning", data_key=key)]

    assert "salmon-rm" in missing(group("smol-two-factor", "abc+shipped+helpfulness"))
    assert "salmon-rm" not in missing(group("smol-two-factor", "abc+shipped+safety-first"))
    sentiment = missing(group("smol-sentiment", "abc+shipped"))
    assert "salmon-rm" not in sentiment and "bfpo" not in sentiment and "ids" in sentiment
    # a self-labelling learner has nothing to label with every label seen: not missing there, and refused
    assert "ser" not in sentiment
    budget = group("smol-sentiment", "abc+shipped")
    for doc in budget:
        doc["settings"] = {**doc["settings"], "reward_labels": 0.1}
    assert "ser" in missing(budget)
    ser = ALGORITHMS.get("ser")
    assert "--labels below 1" in SmolSentimentSuite().cannot_train(ser)
    assert SmolSentimentSuite().cannot_train(ser, labels=0.3) is None


def test_an_rl_cell_trains_and_hashes_its_reward_learners_config():
    from prefzoo.algorithms.framework.config import ConfigError
    from prefzoo.benchmarks.suites.lm.cells import _complete_configs

    ppo = ALGORITHMS.get("ppo")
    plain = ppo.Config(reward_learner="salmon-rm")
    assert ppo(plain).reward_learner_config == InstructableReward.Config()

    def with_learner_config(config, learner_config):  # ppo's config in a run of ppo and salmon-rm
        return _complete_configs({"ppo": config, "salmon-rm": learner_config})["ppo"]

    assert with_learner_config(plain, InstructableReward.Config()) == plain  # defaults: same hash
    folded = with_learner_config(plain, InstructableReward.Config(negation=0.0))
    assert folded.reward_learner_config == '{"negation": 0.0}'
    assert ppo(folded).reward_learner_config == InstructableReward.Config(negation=0.0)
    assert folded.config_hash() != plain.config_hash() and "reward_learner_config" not in plain.to_dict()
    assert folded.learner_label() == "salmon-rm[negation=0.0]"
    assert with_learner_config(folded, InstructableReward.Config(negation=0.0)) == folded
    assert ppo.Config(reward_learner="salmon-rm", reward_learner_config='{"negation": 0}') == folded  # one way
    assert ppo.Config(reward_learner="salmon-rm", reward_learner_config='{"negation": 0.5}') == plain  # the default
    with pytest.raises(ValueError, match="two configs for salmon-rm"):
        with_learner_config(folded, InstructableReward.Config(negation=0.25))
    with pytest.raises(ConfigError, match="no field 'negatoin'; did you mean 'negation'"):
        ppo.Config(reward_learner="salmon-rm", reward_learner_config='{"negatoin": 0}')
    with pytest.raises(ConfigError, match="reward_learner_config = '0.5': expected a JSON object"):
        ppo.Config(reward_learner="salmon-rm", reward_learner_config="0.5")
