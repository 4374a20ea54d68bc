"""Every registered algorithm of every family through its family's real runner on a tiny model (no
download): two steps, finite numbers, the policy (or the reward model) moved, π_ref untouched. A new
algorithm of any family is tested here on arrival; so are members written against the interface
alone, with nothing but the base class's defaults."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from prefzoo.algorithms.engine.data import TokenizationSettings, collate_pairs, tokenize_pairs
from prefzoo.algorithms.engine.logprobs import sequence_logps
from prefzoo.algorithms.engine.models import reference_mode
from prefzoo.algorithms.engine.online import OnlineSettings
from prefzoo.algorithms.engine.pairwise import TrainSettings, make_accelerator
from prefzoo.algorithms.engine.reference import compute_reference_logps, with_reference
from prefzoo.algorithms.engine.rl import RLSettings
from prefzoo.algorithms.engine.runners import RunContext, run_family
from prefzoo.algorithms.framework.base import LossOutput, OnlinePreference, RewardLearning, RLWithReward
from prefzoo.algorithms.ppo import masked_mean
from prefzoo.benchmarks.suites.two_factor.suite import PRINCIPLES
from prefzoo.registry import ALGORITHMS
from tests.tiny_lm import make_tiny_lm, pairs, policy

TRAIN = TrainSettings(steps=2, batch_size=4, micro_batch_size=2, learning_rate=5e-2)


class AnyReward(RewardLearning):
    """A reward learner with no fields: Bradley–Terry at the loop's learning rate (Eq. 1 of Ouyang et al.)."""

    paper = "test"

    def loss(self, rc, rr, labels):
        return LossOutput(F.binary_cross_entropy_with_logits(rc - rr, labels.to(rc.dtype), reduction="none"))


class AnyOnline(OnlinePreference):
    """DPO's loss (Rafailov et al. 2023, Eq. 7) on one policy and one reference sample a pair."""

    paper = "test"
    samplers = ("policy", "reference")

    def loss(self, pairs, origins, progress):
        return LossOutput(-F.logsigmoid(pairs.logratio_margin))


class Reinforce(RLWithReward):
    """Plain REINFORCE (Williams 1992, Eq. 11) on the score: no critic, no baseline, one sample a prompt."""

    paper = "test"

    def token_rewards(self, r):
        return r.scores[:, None] * r.mask

    def advantages(self, r, rewards):
        return rewards, rewards

    def loss(self, logprobs, values, r, adv, ret, entropy=None):
        return LossOutput(-masked_mean(logprobs * adv, r.mask, 1))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


def context(tiny, tmp_path):
    settings, tok, model = policy(tiny, quantize=False)
    # two-factor rows with its principles (bfpo reads the safety labels, salmon-rm the principles; every other
    # member must ignore both)
    rows = [row | {"chosen_safe": i % 3 != 0, "rejected_safe": i % 2 == 0} for i, row in enumerate(pairs(12))]
    data = tokenize_pairs(rows, tok, TokenizationSettings())
    data = with_reference(data, compute_reference_logps(model, data, tok.pad_token_id))
    gold = lambda _prompts, texts: torch.tensor([t.count("good") - t.count("bad") + 0.1 * len(t.split()) for t in texts],  # noqa: E731
                                      dtype=torch.float32)
    eval_gold = torch.tensor([[1.0, -1.0]] * len(data), dtype=torch.float64)
    return RunContext(model=model, tokenizer=tok, model_settings=settings, train=TRAIN,
                      accelerator=make_accelerator(TRAIN), train_data=data,
                      train_prompts=[[{"role": "user", "content": r["prompt"]}] for r in rows], eval_data=data,
                      out_dir=tmp_path / "out", run_name="test", gold=gold, eval_gold=eval_gold,
                      label_temperature=0.5, online=OnlineSettings(prompts_per_round=4, max_new_tokens=5),
                      rl=RLSettings(max_new_tokens=5), reward_epochs=1, log=lambda _: None,
                      policy_adapter=lambda name, config: _saved_policy(model, tmp_path / "policy"),
                      sampling={"max_new_tokens": 5, "batch_size": 4}, principles=PRINCIPLES)


def _saved_policy(model, folder):
    """The policy adapter as a finished cell leaves it (what reward extraction reads)."""
    if not (folder / "adapter_config.json").exists():
        model.save_pretrained(folder, selected_adapters=["default"])
    return folder


def _policy_logps(ctx):
    batch = collate_pairs(list(ctx.train_data.select(range(4))), ctx.pad_id)
    with torch.no_grad():
        ctx.model.eval()
        policy_now = sequence_logps(ctx.model, batch)[0]
        with reference_mode(ctx.model):
            ref_now = sequence_logps(ctx.model, batch)[0]
    return policy_now, ref_now


def _check_member(algorithm, tiny, tmp_path):
    ctx = context(tiny, tmp_path)
    if getattr(algorithm, "uses_unlabelled", False):  # 6 of the 8 pairs labelled (5 train, 1 validation)
        ctx = dataclasses.replace(ctx, reward_labels=0.75, reward_epochs=2)
    if getattr(algorithm, "uses_principles", False):  # drawn principles that tell a pair apart keep it: 2 passes
        ctx = dataclasses.replace(ctx, reward_epochs=2)
    policy_before, ref_before = _policy_logps(ctx)
    adapters_before = set(ctx.model.peft_config)
    result = run_family(algorithm, ctx)
    losses = [h["loss"] for h in result.train.history]
    assert len(losses) >= 2 and all(math.isfinite(v) for v in losses)
    assert result.train.train_tokens > 0 and result.train.wall_time_s > 0
    doc = result.document()["train"]
    assert all(doc[k] >= 0 for k in ("generated_tokens", "responses_sampled", "oracle_queries", "dataset_pairs"))
    policy_after, ref_after = _policy_logps(ctx)
    assert torch.equal(ref_after, ref_before)  # π_ref is the base: no family moves it
    assert set(ctx.model.peft_config) == adapters_before  # reward models and critics are removed afterwards
    if algorithm.trains_policy:
        assert not torch.allclose(policy_after, policy_before, atol=1e-5)
    else:
        assert torch.equal(policy_after, policy_before)
        reward = result.evaluation["reward"]
        assert 0 <= reward["pair_accuracy"] <= 1 and (tmp_path / "out").exists()
    return result


@pytest.mark.parametrize("name", ALGORITHMS.names())
def test_every_registered_algorithm_runs_two_steps_through_its_family_runner(name, tiny, tmp_path):
    cls = ALGORITHMS.get(name)
    result = _check_member(cls(), tiny, tmp_path)
    if cls.family.value == "rl-with-reward":
        assert result.costs.reward_model_queries == 2 * TRAIN.batch_size
        assert len(result.extras["curve"]) == TRAIN.steps


@pytest.mark.parametrize("member", [AnyReward, AnyOnline, Reinforce], ids=lambda c: c.__name__)
def test_a_member_written_against_the_interface_alone_runs_in_its_loop(member, tiny, tmp_path):
    _check_member(member(), tiny, tmp_path)
