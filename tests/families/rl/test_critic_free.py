"""RLOO, GRPO (with Dr. GRPO and DAPO) and REINFORCE++ against hand-computed values, and the PPO critic
mapped onto the normalised score scale."""

from __future__ import annotations

import math

import pytest
import torch

from prefzoo.algorithms.framework.base import Rollout
from prefzoo.registry import ALGORITHMS


def rollout(scores, logratio=0.0, group_size=1, tokens=2, max_tokens=None) -> Rollout:
    n = len(scores)
    logprobs = torch.full((n, tokens), -1.0)
    return Rollout(logprobs, logprobs - logratio, torch.tensor(scores), torch.ones(n, tokens), group_size=group_size,
                   max_tokens=max_tokens)


def test_rloo_baseline_is_the_mean_of_the_other_responses():
    rloo = ALGORITHMS.get("rloo")
    algorithm = rloo(rloo.Config(beta=0.0, samples_per_prompt=3))
    r = rollout([1.0, 2.0, 6.0, 0.0, 0.0, 3.0], group_size=3)
    adv, _ = algorithm.advantages(r, algorithm.token_rewards(r))
    # group 1: baselines (2+6)/2, (1+6)/2, (1+2)/2; group 2: 1.5, 1.5, 0
    assert adv[:, 0].tolist() == pytest.approx([-3.0, -1.5, 4.5, -1.5, -1.5, 3.0])
    assert torch.equal(adv[:, 0], adv[:, 1])  # one advantage per sequence, on every token


def test_rloo_reward_subtracts_beta_times_the_sequence_kl():
    rloo = ALGORITHMS.get("rloo")
    algorithm = rloo(rloo.Config(beta=0.5, samples_per_prompt=2))
    r = rollout([1.0, 2.0], logratio=0.2, group_size=2)  # KL of each sequence 0.4: R = score − 0.2
    rewards = algorithm.token_rewards(r)
    assert rewards.sum(1).tolist() == pytest.approx([0.8, 1.8])
    adv, _ = algorithm.advantages(r, rewards)
    assert adv[:, 0].tolist() == pytest.approx([-1.0, 1.0])


def test_rloo_loss_is_the_clipped_sequence_ratio():
    rloo = ALGORITHMS.get("rloo")
    algorithm = rloo(rloo.Config(clip_range=0.2, samples_per_prompt=2))
    r = rollout([0.0, 0.0], group_size=2)
    adv = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    new = r.logprobs + torch.tensor([[0.1, 0.1], [0.05, 0.0]])  # sequence ratios e^0.2, e^0.05
    losses = algorithm.loss(new, None, r, adv, torch.zeros_like(adv)).losses
    assert losses.tolist() == pytest.approx([-1.2, math.exp(0.05)], rel=1e-6)  # e^0.2 > 1.2 is clipped


def test_grpo_advantages_are_group_normalised_and_dr_grpo_only_centres():
    grpo = ALGORITHMS.get("grpo")
    r = rollout([1.0, 2.0, 3.0, 6.0], group_size=4)
    std = math.sqrt((4 + 1 + 0 + 9) / 3)  # Bessel-corrected, as TRL's nanstd
    plain = grpo(grpo.Config(samples_per_prompt=4))
    adv, _ = plain.advantages(r, plain.token_rewards(r))
    assert adv[:, 0].tolist() == pytest.approx([(x - 3) / (std + 1e-4) for x in (1, 2, 3, 6)], rel=1e-6)
    dr = grpo(grpo.Config(samples_per_prompt=4, loss_type="dr_grpo"))
    adv, _ = dr.advantages(r, dr.token_rewards(r))
    assert adv[:, 0].tolist() == pytest.approx([-2.0, -1.0, 0.0, 3.0])


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo"])
def test_grpo_loss_by_hand(loss_type):
    """Two responses of 2 and 1 tokens; ρ = e^0.1 on every token, advantage 1 and −1, k3 KL with
    log π_ref/π = −0.3 per token: k3 = e^−0.3 + 0.3 − 1."""
    grpo = ALGORITHMS.get("grpo")
    beta = 0.1
    algorithm = grpo(grpo.Config(samples_per_prompt=2, loss_type=loss_type, beta=beta))
    logprobs = torch.full((2, 2), -1.0)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    r = Rollout(logprobs, logprobs - 0.3, torch.zeros(2), mask, group_size=2, max_tokens=4)
    new = logprobs + 0.1
    adv = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    losses = algorithm.loss(new, None, r, adv, torch.zeros_like(adv)).losses
    k3 = math.exp(-0.4) + 0.4 - 1  # log π_ref/π = −0.3 − 0.1 after the update
    high = 0.28 if loss_type == "dapo" else 0.2
    rho = math.exp(0.1)
    pos = -min(rho, min(rho, 1 + high)) + beta * k3  # advantage +1: min(ρA, clip(ρ)A)
    neg = rho + beta * k3  # advantage −1: −min(−ρ, −clip(ρ)) = ρ (ρ inside the clip)
    expected = {"grpo": [pos, neg], "dr_grpo": [2 * pos / 4, neg / 4], "dapo": [2 * pos * 2 / 3, neg * 2 / 3]}
    assert losses.tolist() == pytest.approx(expected[loss_type], rel=1e-6)
    if loss_type == "dapo":  # the mean over responses is the mean over the batch's tokens
        assert losses.mean().item() == pytest.approx((2 * pos + neg) / 3, rel=1e-6)


def test_reinforce_pp_returns_are_the_score_minus_the_kl_to_come_then_whitened():
    rpp = ALGORITHMS.get("reinforce-pp")
    algorithm = rpp(rpp.Config(kl_coef=0.1))
    r = rollout([1.0, 0.0], logratio=0.5, tokens=3)
    rewards = algorithm.token_rewards(r)
    assert rewards[0].tolist() == pytest.approx([-0.05, -0.05, 0.95])
    adv, returns = algorithm.advantages(r, rewards)
    assert returns[0].tolist() == pytest.approx([0.85, 0.9, 0.95])
    assert returns[1].tolist() == pytest.approx([-0.15, -0.1, -0.05])
    flat = returns.flatten()
    assert adv.flatten().tolist() == pytest.approx(((flat - flat.mean()) / flat.std(unbiased=False)).tolist(), rel=1e-4)


def test_the_ppo_critic_is_mapped_onto_the_normalised_score_scale():
    """A critic copied from the reward model predicts raw scores; after the first batch it predicts
    (score − μ)/σ with the moments the rewards use, so its first value loss is not the raw scale's."""
    from prefzoo.algorithms.engine.rl import _rescale_critic

    ppo = ALGORITHMS.get("ppo")()
    ppo.token_rewards(rollout([1.0, 3.0, 5.0, 7.0]))
    mean, std = ppo.score_normalisation()
    assert (mean, std) == pytest.approx((4.0, math.sqrt(5.0)))

    class Head:
        head = torch.nn.Linear(3, 1)

    critic = Head()
    hidden = torch.randn(5, 3)
    raw = critic.head(hidden).detach()
    _rescale_critic(critic, mean, std)
    assert torch.allclose(critic.head(hidden).detach(), (raw - mean) / std, atol=1e-6)


def test_reinforce_pp_baseline_centres_each_score_on_its_group_then_whitens_the_returns():
    """OpenRLHF's reinforce_baseline by hand: scores (1, 3 | 0, 4) in groups of 2 → (−1, 1 | −2, 2); with
    log π_old/π_ref = 0.5 on each of 2 tokens and β = 0.1 the returns are (centred − 0.1, centred − 0.05)."""
    cls = ALGORITHMS.get("reinforce-pp-baseline")
    algorithm = cls(cls.Config(kl_coef=0.1, samples_per_prompt=2))
    r = rollout([1.0, 3.0, 0.0, 4.0], logratio=0.5, group_size=2, tokens=2)
    adv, returns = algorithm.advantages(r, algorithm.token_rewards(r))
    centred = [-1.0, 1.0, -2.0, 2.0]
    assert returns.flatten().tolist() == pytest.approx([v for c in centred for v in (c - 0.1, c - 0.05)])
    flat = returns.flatten()
    assert adv.flatten().tolist() == pytest.approx(((flat - flat.mean()) / flat.std(unbiased=False)).tolist(), rel=1e-4)
    plain = ALGORITHMS.get("reinforce-pp")(ALGORITHMS.get("reinforce-pp").Config(kl_coef=0.1))
    assert plain.token_rewards(r)[:, -1].tolist() != algorithm.token_rewards(r)[:, -1].tolist()  # no baseline there


@pytest.mark.parametrize("name,expected", [("reinforce-pp", -0.5), ("reinforce-pp-baseline", 0.25)])
def test_reinforce_pp_losses_average_per_response_or_over_the_batchs_tokens(name, expected):
    """At ρ = 1 the per-token loss is −A_t. A 1-token response with A = 2 and a 3-token one with A = −1:
    reinforce-pp averages each response, then both, (−2 + 1)/2 = −0.5; reinforce-pp-baseline averages the
    batch's 4 tokens, (−2 + 3)/4 = 0.25, as OpenRLHF's token-level PolicyLoss does."""
    cls = ALGORITHMS.get(name)
    algorithm = cls(cls.Config(samples_per_prompt=2))
    mask = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    logprobs = torch.full((2, 3), -1.0) * mask
    r = Rollout(logprobs, logprobs, torch.zeros(2), mask, group_size=2)
    advantages = torch.tensor([[2.0, 0.0, 0.0], [-1.0, -1.0, -1.0]])
    assert algorithm.loss(logprobs, None, r, advantages, advantages).loss.item() == pytest.approx(expected)
