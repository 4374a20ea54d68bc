"""PPO-RLHF's pieces against hand-computed values: GAE, the per-token reward with its KL estimators and
score normalisation, the clipped policy and value losses, advantage whitening."""

from __future__ import annotations

import math

import pytest
import torch

from prefzoo.algorithms.framework.base import Rollout
from prefzoo.algorithms.ppo import RunningMoments, gae, whiten
from prefzoo.registry import ALGORITHMS

PPO = ALGORITHMS.get("ppo")


def rollout(**kw) -> Rollout:
    base = dict(logprobs=torch.zeros(1, 3), ref_logprobs=torch.zeros(1, 3), values=torch.zeros(1, 3),
                scores=torch.zeros(1), mask=torch.ones(1, 3))
    return Rollout(**{**base, **kw})


def test_gae_by_hand():
    rewards, values = torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.5, 0.4, 0.3]])
    adv, ret = gae(rewards, values, torch.ones(1, 3), gamma=1.0, lam=0.95)
    # δ = (0 + 0.4 − 0.5, 0 + 0.3 − 0.4, 1 + 0 − 0.3); A₂ = 0.7, A₁ = −0.1 + 0.95·0.7, A₀ = −0.1 + 0.95·A₁
    a1 = -0.1 + 0.95 * 0.7
    assert adv.tolist()[0] == pytest.approx([-0.1 + 0.95 * a1, a1, 0.7])
    assert ret.tolist()[0] == pytest.approx([-0.1 + 0.95 * a1 + 0.5, a1 + 0.4, 1.0])
    # a padded last position: V after the last response token is 0, nothing flows back from padding
    adv, _ = gae(torch.tensor([[0.0, 1.0, 5.0]]), values, torch.tensor([[1.0, 1.0, 0.0]]), gamma=0.9, lam=0.5)
    d1 = 1.0 - 0.4
    assert adv.tolist()[0] == pytest.approx([0.9 * 0.4 - 0.5 + 0.45 * d1, d1, 0.0])


def test_token_rewards_by_hand_with_both_kl_estimators():
    r = rollout(logprobs=torch.tensor([[-1.0, -2.0, -0.5]]), ref_logprobs=torch.tensor([[-1.5, -1.0, -0.5]]),
                scores=torch.tensor([2.0]), mask=torch.tensor([[1.0, 1.0, 0.0]]))
    k1 = PPO(PPO.Config(kl_coef=0.1, normalize_score=False, score_clip=0.0)).token_rewards(r)
    assert k1.tolist()[0] == pytest.approx([-0.1 * 0.5, -0.1 * -1.0 + 2.0, 0.0])  # score on the last real token
    k3 = PPO(PPO.Config(kl_coef=0.1, kl_estimator="k3", normalize_score=False, score_clip=0.0)).token_rewards(r)
    k3_0 = math.exp(-0.5) - 1 + 0.5   # ρ = π_ref/π = e^(−0.5)
    k3_1 = math.exp(1.0) - 1 - 1.0    # ρ = e^(1)
    assert k3.tolist()[0] == pytest.approx([-0.1 * k3_0, -0.1 * k3_1 + 2.0, 0.0])
    clipped = PPO(PPO.Config(kl_coef=0.0, normalize_score=False, score_clip=1.5)).token_rewards(r)
    assert clipped.tolist()[0] == pytest.approx([0.0, 1.5, 0.0])


def test_score_normalisation_uses_running_moments():
    ppo = PPO(PPO.Config(kl_coef=0.0, score_clip=0.0))
    first = ppo.scores(rollout(scores=torch.tensor([1.0, 3.0]), logprobs=torch.zeros(2, 3),
                               ref_logprobs=torch.zeros(2, 3), values=torch.zeros(2, 3), mask=torch.ones(2, 3)))
    assert first.tolist() == pytest.approx([-1.0, 1.0])  # mean 2, std 1
    second = ppo.scores(rollout(scores=torch.tensor([5.0, 7.0]), logprobs=torch.zeros(2, 3),
                                ref_logprobs=torch.zeros(2, 3), values=torch.zeros(2, 3), mask=torch.ones(2, 3)))
    everything = torch.tensor([1.0, 3.0, 5.0, 7.0])
    expected = (torch.tensor([5.0, 7.0]) - everything.mean()) / everything.std(unbiased=False)
    assert second.tolist() == pytest.approx(expected.tolist())
    moments = RunningMoments()
    for chunk in everything.split(1):
        moments.update(chunk)
    assert (moments.mean, moments.std) == pytest.approx((4.0, float(everything.std(unbiased=False))))


def test_clipped_policy_and_value_losses_by_hand():
    ppo = PPO(PPO.Config(clip_range=0.2, value_clip=0.2, value_coef=1.0))
    r = rollout(logprobs=torch.zeros(2, 1), ref_logprobs=torch.zeros(2, 1), values=torch.zeros(2, 1),
                scores=torch.zeros(2), mask=torch.ones(2, 1))
    logprobs = torch.full((2, 1), math.log(1.5))  # ratio 1.5
    advantages = torch.tensor([[1.0], [-1.0]])
    returns = torch.tensor([[0.5], [0.5]])
    values = torch.tensor([[1.0], [0.1]])
    out = ppo.loss(logprobs, values, r, advantages, returns)
    # A = 1: −min(1.5, 1.2) = −1.2; A = −1: −min(−1.5, −1.2) = 1.5
    # V = 1: max((1 − 0.5)², (0.2 − 0.5)²) = 0.25; V = 0.1 (inside the clip): (0.1 − 0.5)² = 0.16
    assert out.losses.tolist() == pytest.approx([-1.2 + 0.5 * 0.25, 1.5 + 0.5 * 0.16])
    assert out.metrics["clip_fraction"].tolist() == [1.0, 1.0]
    entropy = ppo.loss(logprobs, values, r, advantages, returns, entropy=torch.ones(2, 1))
    assert torch.equal(entropy.losses, out.losses)  # PPO-max: no entropy bonus by default
    bonus = PPO(PPO.Config(value_coef=1.0, entropy_coef=0.1)).loss(logprobs, values, r, advantages, returns,
                                                                    entropy=torch.ones(2, 1))
    assert (bonus.losses - out.losses).tolist() == pytest.approx([-0.1, -0.1])


def test_whitening_is_over_the_masked_entries():
    x, mask = torch.tensor([[1.0, 3.0, 100.0]]), torch.tensor([[1.0, 1.0, 0.0]])
    assert whiten(x, mask).tolist()[0] == pytest.approx([-1.0, 1.0, 0.0], abs=1e-6)


def test_overoptimisation_fit_recovers_gao_et_al_form():
    from prefzoo.benchmarks.suites.lm.figures import fit_overoptimisation

    d = [0.0, 0.5, 1.0, 2.0, 4.0]
    reward = [x * (2.0 - 0.5 * math.log(x)) if x else 0.0 for x in d]
    assert fit_overoptimisation(d, reward) == pytest.approx((2.0, 0.5))
    assert fit_overoptimisation([0.0, 1.0], [0.0, 1.0]) is None  # one usable point
