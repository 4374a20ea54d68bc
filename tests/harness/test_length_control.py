"""The length-controlled win rate: the GLM's fit against its optimality condition and hand cases."""

from __future__ import annotations

import pytest
import torch

from prefzoo.benchmarks.harness.length_control import C, fit, length_controlled


def test_the_fit_is_the_minimum_of_the_penalised_log_loss():
    g = torch.Generator().manual_seed(0)
    d = torch.randn(2, 50, generator=g, dtype=torch.float64) * 30
    y = torch.rand(2, 50, generator=g, dtype=torch.float64).round() * 0.5 + 0.25 * (d > 0)  # soft targets
    theta = fit(y, d).requires_grad_()
    z = torch.tanh(d / d.std(dim=1, keepdim=True))
    p = torch.sigmoid(theta[:, :1] + theta[:, 1:] * z)
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).sum() + (theta ** 2).sum() / (2 * C)
    (gradient,) = torch.autograd.grad(loss, theta)
    assert gradient.abs().max() < 1e-9


def test_without_length_differences_it_is_the_win_rate_shrunk_by_the_penalty():
    wins = torch.tensor([1.0, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.0]).view(1, 8, 1)
    result = length_controlled(wins, torch.zeros(1, 8, 1))
    # θ₁ = 0, and θ₀ solves Σ(σ(θ₀) − y) + θ₀/C = 0: bisection by hand
    low, high = -5.0, 5.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if (torch.sigmoid(torch.tensor(mid, dtype=torch.float64)) * 8 - wins.sum() + mid / C) < 0 else (low, mid)
    assert result["length_coefficient"] == pytest.approx(0.0, abs=1e-12)
    assert result["mean"] == pytest.approx(float(torch.sigmoid(torch.tensor(low, dtype=torch.float64))), abs=1e-9)
    assert abs(result["mean"] - 5.5 / 8) < 0.01


def test_a_judge_that_rewards_length_alone_gets_no_credit_at_equal_length():
    g = torch.Generator().manual_seed(1)
    d = 15 + 20 * torch.randn(3, 64, 1, generator=g, dtype=torch.float64)  # the policy mostly talks longer
    # the judge's preference depends on the length difference alone: P(win) = σ(3·tanh(Δ/sd)), 1/2 at Δ = 0
    wins = (torch.rand(3, 64, 1, generator=g, dtype=torch.float64) < torch.sigmoid(3 * torch.tanh(d / d.std()))).double()
    result = length_controlled(wins, d)
    assert wins.mean() > 0.65
    assert result["length_coefficient"] > 1.5 and abs(result["mean"] - 0.5) < 0.1
    assert result["low"] < 0.5 < result["high"] and result["seeds"] == 3
