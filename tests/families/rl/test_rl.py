"""The PPO loop on a tiny random model (no download): three adapters on one base that really switch,
a critic that never reaches the policy's gradient, and the overoptimisation record."""

from __future__ import annotations

import pytest
import torch

from prefzoo.algorithms.engine.data import collate_sequences, prompt_token_ids
from prefzoo.algorithms.engine.logprobs import response_token_logps
from prefzoo.algorithms.engine.models import reference_mode
from prefzoo.algorithms.engine.pairwise import TrainSettings
from prefzoo.algorithms.engine.reward_model import Critic, RewardModel
from prefzoo.algorithms.engine.rl import RLSettings, train_rl
from prefzoo.algorithms.framework.base import Rollout
from prefzoo.registry import ALGORITHMS
from tests.tiny_lm import make_tiny_lm, policy

PPO = ALGORITHMS.get("ppo")
PROMPTS = [[{"role": "user", "content": f"write a review about the {s}"}] for s in ("pizza", "cafe", "movie", "book")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


def scored_reward_model(model, settings):
    reward_model = RewardModel.create(model, settings, adapter="reward", seed=2)
    with torch.no_grad():
        reward_model.head.weight.normal_(0, 0.5)
    return reward_model


def batch_of(tok, completions):
    return collate_sequences([prompt_token_ids(tok, p) for p in PROMPTS], completions, tok.pad_token_id)


def test_the_critic_never_reaches_the_policy_gradient(tiny):
    settings, tok, model = policy(tiny, quantize=False)
    critic = Critic.from_reward_model(scored_reward_model(model, settings), settings)
    batch = batch_of(tok, [[8, 9, 10], [11, 12], [13, 14, 15], [16, 3]])
    policy_params = [p for n, p in model.named_parameters() if ".default." in n]
    critic_params = critic.parameters()
    with torch.no_grad():
        old, mask, _ = response_token_logps(model, batch)
        values = critic.values(batch)
    rollout = Rollout(old, old - 0.1, torch.ones(4), mask, values)
    ppo = PPO()
    adv, ret = ppo.advantages(rollout, ppo.token_rewards(rollout))
    logps, _, _ = response_token_logps(model.train(), batch)
    ppo.loss(logps, values, rollout, adv, ret).loss.backward()
    assert all(p.grad is None for p in critic_params)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy_params)
    before = [p.grad.clone() for p in policy_params]
    with critic.active():
        ppo.loss(logps.detach(), critic.values(batch), rollout, adv, ret).loss.backward()
    assert all(torch.equal(p.grad, b) for p, b in zip(policy_params, before))
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in critic_params)


def test_critic_starts_as_the_reward_model(tiny):
    """PPO-max initialises the critic from the reward model: its own adapter, holding the reward
    adapter's weights, reads the same hidden states, and the same head maps them to values."""
    from prefzoo.algorithms.engine.logprobs import response_start

    settings, tok, model = policy(tiny, quantize=False)
    reward_model = scored_reward_model(model, settings)
    with torch.no_grad():  # move the reward adapter away from its initialisation first
        for n, p in model.named_parameters():
            if ".reward." in n:
                p.add_(torch.randn_like(p) * 0.05)
    critic = Critic.from_reward_model(reward_model, settings)
    batch = batch_of(tok, [[8, 9, 10], [11, 12], [13, 14, 15], [16, 3]])
    start = response_start(batch)
    with torch.no_grad():
        expected = reward_model.head(reward_model.hidden(batch)[:, start - 1:-1]).squeeze(-1)
        assert torch.allclose(critic.values(batch), expected, atol=1e-6)
        base_hidden = RewardModel(model, "default", reward_model.head).hidden(batch)[:, start - 1:-1]
        assert not torch.allclose(reward_model.head(base_hidden).squeeze(-1), expected, atol=1e-4)


def test_ppo_trains_the_policy_only_and_records_the_overoptimisation_curve(tiny):
    settings, tok, model = policy(tiny, quantize=False)
    reward_model = scored_reward_model(model, settings)
    batch = batch_of(tok, [[8, 9, 10], [11, 12], [13, 14, 15], [16, 3]])
    model.eval()
    with torch.no_grad():
        policy_before = response_token_logps(model, batch)[0]
        with reference_mode(model):
            ref_before = response_token_logps(model, batch)[0]
        scores_before = reward_model.score(batch)
    result = train_rl(PPO(PPO.Config(kl_coef=0.01)), model, tok, PROMPTS, reward_model, settings,
                       TrainSettings(steps=3, learning_rate=5e-2),
                       RLSettings(responses_per_iteration=4, minibatch_size=2, max_new_tokens=5),
                       gold=lambda _prompts, texts: torch.tensor([float(len(t)) for t in texts]))
    assert len(result.curve) == 3 and len(result.history) == 3 * 2
    assert all({"proxy_score", "gold_reward", "kl", "sqrt_kl"} <= set(p) for p in result.curve)
    assert result.reward_model_queries == 12 and 0 < result.generated_tokens <= 12 * 5
    assert model.active_adapter == "default" and "value" not in model.peft_config
    model.eval()
    with torch.no_grad():
        assert not torch.allclose(response_token_logps(model, batch)[0], policy_before, atol=1e-4)
        with reference_mode(model):
            assert torch.equal(response_token_logps(model, batch)[0], ref_before)
        assert torch.equal(reward_model.score(batch), scores_before)


def test_a_minibatch_of_rows_with_longer_prompts_keeps_the_rollouts_columns(tiny):
    """A minibatch's first response column can lie right of the rollout's (its prompts are longer): its
    log-probs and values must still be laid out on the rollout's columns, or the ratio π/π_old pairs
    different tokens (and shapes differ)."""
    from prefzoo.algorithms.engine.logprobs import response_start

    settings, tok, model = policy(tiny, quantize=False)
    prompts = [[{"role": "user", "content": "hi"}],
               [{"role": "user", "content": "write a long and careful review about the new pizza place"}]]
    batch = collate_sequences([prompt_token_ids(tok, p) for p in prompts], [[8, 9], [10, 11]], tok.pad_token_id)
    start, second = response_start(batch), {k: v[[1]] for k, v in batch.items()}
    assert response_start(second) > start
    critic = Critic.create(model, settings, adapter="value", seed=0)
    model.eval()
    with torch.no_grad():
        whole, part = response_token_logps(model, batch)[0], response_token_logps(model, second, start=start)[0]
        torch.testing.assert_close(part[0], whole[1])
        torch.testing.assert_close(critic.values(second, start)[0], critic.values(batch)[1])
    model.delete_adapter("value")
    # the loop itself: PPO (critic and all) with one row a minibatch, on prompts of different lengths
    result = train_rl(PPO(PPO.Config()), model, tok, prompts, scored_reward_model(model, settings), settings,
                      TrainSettings(steps=1), RLSettings(responses_per_iteration=2, minibatch_size=1, max_new_tokens=3))
    assert len(result.history) == 2


def test_a_pretraining_loss_without_a_corpus_is_refused(tiny):
    settings, tok, model = policy(tiny, quantize=False)
    with pytest.raises(ValueError, match="ptx_coef = 0.5, but this loop has no pretraining corpus"):
        train_rl(PPO(PPO.Config(ptx_coef=0.5)), model, tok, PROMPTS, scored_reward_model(model, settings), settings,
                  TrainSettings(steps=1))


@pytest.mark.parametrize("minibatch,same", [(8, True), (2, False)], ids=["one-step-per-rollout", "four-steps"])
def test_dapo_and_vespo_train_one_policy_on_policy_and_two_off_it(tiny, minibatch, same):
    """The loop users run: with one optimiser step per rollout DAPO and VESPO (same token aggregation, ratio
    treatments that agree at ratio 1) reach the same weights; split into four minibatches, the steps after
    the first are off-policy and the two part (tests/families/rl/test_on_policy_equivalence.py: why)."""
    finals = []
    for name in ("dapo", "vespo"):
        settings, tok, model = policy(tiny, quantize=False)
        cls = ALGORITHMS.get(name)
        train_rl(cls(cls.Config()), model, tok, PROMPTS, scored_reward_model(model, settings), settings,
                 TrainSettings(steps=1, learning_rate=5e-2),
                 RLSettings(responses_per_iteration=8, minibatch_size=minibatch, max_new_tokens=4))
        finals.append(torch.cat([p.detach().flatten() for n, p in model.named_parameters() if "lora_" in n]))
    gap = float((finals[0] - finals[1]).abs().max())
    assert gap < 1e-6 if same else gap > 1e-3
