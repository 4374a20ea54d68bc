"""The reward-learning family: Bradley–Terry and Iterative Data Smoothing by hand, one bandit epoch by
hand, and the IDS reproduction — maximum likelihood drifts on rarely compared arms, IDS does not."""

from __future__ import annotations

import math

import pytest
import torch

from prefzoo.benchmarks.suites.bandit.reward import RewardBanditSettings, comparisons, run_reward_bandit
from prefzoo.registry import ALGORITHMS

BT, IDS = ALGORITHMS.get("bt"), ALGORITHMS.get("ids")


def test_bradley_terry_loss_by_hand_with_hard_and_soft_labels():
    out = BT().loss(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.3]))
    hard = math.log(1 + math.exp(-1))  # −log σ(1)
    soft = 0.3 * hard + 0.7 * math.log(1 + math.exp(1))  # −[0.3 log σ(1) + 0.7 log σ(−1)]
    assert out.losses.tolist() == pytest.approx([hard, soft], abs=1e-6)
    assert torch.equal(BT().update_labels(torch.tensor([1.0, 0.3]), torch.ones(2), torch.zeros(2)),
                       torch.tensor([1.0, 0.3]))  # MLE keeps its labels


def test_ids_label_update_by_hand():
    ids = IDS(IDS.Config(beta=0.3))
    new = ids.update_labels(torch.tensor([1.0, 0.6]), torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0]))
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert new.tolist() == pytest.approx([0.7 + 0.3 * sig(2), 0.42 + 0.3 * sig(-1)], abs=1e-6)


def test_one_bandit_epoch_by_hand():
    """From r = 0 every comparison pulls its winner up and its loser down by α·(1 − σ(0)) = α/2."""
    settings = RewardBanditSettings(epochs=1, checkpoints=(1,), seeds=2)
    run = run_reward_bandit(BT, BT.Config(), settings)
    first, second, preferred = comparisons(settings)
    winners, losers = torch.where(preferred, first, second), torch.where(preferred, second, first)
    expected = torch.zeros(2, settings.arms, dtype=torch.float64)
    expected.scatter_add_(1, winners, torch.full(winners.shape, settings.alpha / 2, dtype=torch.float64))
    expected.scatter_add_(1, losers, torch.full(losers.shape, -settings.alpha / 2, dtype=torch.float64))
    assert torch.allclose(run.rewards, expected, atol=1e-12)


def test_mle_drifts_on_rarely_compared_arms_while_ids_stays_near_the_truth():
    settings = RewardBanditSettings()
    mle, ids = run_reward_bandit(BT, BT.Config(), settings), run_reward_bandit(IDS, IDS.Config(beta=0.03), settings)
    assert ((mle.counts <= settings.rare_max) & (mle.counts > 0)).any(1).all()  # every seed has rare arms
    mle_rare, ids_rare = mle.error_rare.mean(1), ids.error_rare.mean(1)  # (checkpoints,)
    epochs = settings.checkpoints
    assert all(mle_rare[i + 1] > mle_rare[i] for i in range(1, len(epochs) - 1)), mle_rare  # keeps drifting
    assert ids_rare[-1] < 0.5 * mle_rare[-1], (ids_rare, mle_rare)
    assert ids_rare[-1] <= ids_rare[-2] * 1.05  # bounded: no drift between the last checkpoints
    assert mle.rewards.abs().max() > 2 * settings.true_rewards().abs().max()  # rewards run past the truth

