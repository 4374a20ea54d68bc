"""The RL family on the online K-armed bandit: critic-free algorithms against the true reward.

The bandit of ``online`` (arms with true reward r_k = k/(K−1), a reference that rarely plays the
best arm, π = softmax(θ) starting at π_ref). Each round every seed samples ``responses_per_round``
arms from π_t in groups of the algorithm's ``samples_per_prompt`` (one "prompt", the bandit's only
state), scores each by its true reward (one query per response), and builds the same ``Rollout`` the
LM loop builds — one-token responses, per-token log-probs of π_old and π_ref — so the algorithm's own
``token_rewards``, ``advantages`` and ``loss`` run unchanged; Adam then takes ``updates_per_round``
full-batch steps on that rollout (the ratio to π_old and its clip matter from the second on).
Algorithms that need a critic (PPO) are not run here: a one-state bandit has no value to learn
beyond a baseline, which the critic-free methods already supply.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from prefzoo.algorithms.framework.base import RLWithReward, Rollout
from prefzoo.algorithms.framework.config import AlgorithmConfig
from prefzoo.benchmarks.suites.bandit.online import OnlineBanditSettings


@dataclass(frozen=True)
class RLBanditSettings:
    arms: int = 10
    reference_decay: float = 0.7
    """λ of π_ref(k) ∝ exp(−λk), as the online bandit's."""
    rounds: int = 100
    responses_per_round: int = 8
    """Arms sampled a round: the same number of responses as the online bandit's 4 pairs."""
    updates_per_round: int = 10
    lr: float = 0.05
    seeds: int = 10
    curve_points: int = 21
    base_seed: int = 0
    first_seed: int = 0
    """The number of the first seed (seeds run from it on); seed s draws the same numbers in any run, so
    it is not part of the settings' hash."""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "first_seed"}

    def bandit(self) -> OnlineBanditSettings:
        return OnlineBanditSettings(arms=self.arms, reference_decay=self.reference_decay)


@dataclass
class RLBanditRun:
    """One (algorithm, config): per-seed outcomes ``(seeds,)`` and the E_π[r] curve ``(points, seeds)``."""

    config: AlgorithmConfig
    final_reward: torch.Tensor
    best_arm_prob: torch.Tensor
    kl: torch.Tensor
    regret: torch.Tensor
    curve_rounds: list[int]
    curve: torch.Tensor
    reward_queries: int
    """Per seed: one true-reward query per sampled response."""


def run_rl_bandit(cls: type[RLWithReward], config: AlgorithmConfig | None = None,
                  settings: RLBanditSettings = RLBanditSettings()) -> RLBanditRun:
    bandit = settings.bandit()
    rewards, ref_logp = bandit.true_rewards(), bandit.reference_logp().float()
    points = sorted({round(i * settings.rounds / (settings.curve_points - 1)) for i in range(settings.curve_points)})
    finals, best, kls, regrets, curves = [], [], [], [], []
    for seed in range(settings.seeds):
        algorithm = cls(config or cls.Config())  # fresh per seed: running statistics do not cross seeds
        k = algorithm.samples_per_prompt
        if settings.responses_per_round % k:
            raise ValueError(f"{cls.name}: responses_per_round = {settings.responses_per_round} is not a multiple "
                             f"of samples_per_prompt = {k}")
        generator = torch.Generator().manual_seed(hash((settings.base_seed, settings.first_seed + seed)) & 0x7FFF_FFFF)
        theta = ref_logp.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([theta], lr=settings.lr)
        regret, curve = 0.0, []

        def expected() -> float:
            return float((torch.softmax(theta.detach().double(), 0) * rewards).sum())

        for t in range(settings.rounds):
            if t in points:
                curve.append(expected())
            regret += float(rewards.max()) - expected()
            arms = torch.multinomial(torch.softmax(theta.detach(), 0), settings.responses_per_round,
                                     replacement=True, generator=generator)
            old = torch.log_softmax(theta.detach(), 0)[arms][:, None]
            rollout = Rollout(old, ref_logp[arms][:, None], rewards[arms].float(), torch.ones_like(old),
                              group_size=k, max_tokens=1)
            advantages, returns = algorithm.advantages(rollout, algorithm.token_rewards(rollout))
            for _ in range(settings.updates_per_round):
                logp = torch.log_softmax(theta, 0)[arms][:, None]
                loss = algorithm.loss(logp, None, rollout, advantages, returns).loss
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
        curve.append(expected())
        pi = torch.softmax(theta.detach().double(), 0)
        finals.append(expected())
        best.append(pi[-1].item())
        kls.append(float((pi * (pi.log() - bandit.reference_logp())).sum()))
        regrets.append(regret)
        curves.append(curve)
    rounds = points + [settings.rounds] if settings.rounds not in points else points
    return RLBanditRun(algorithm.config, torch.tensor(finals), torch.tensor(best), torch.tensor(kls),
                       torch.tensor(regrets), rounds, torch.tensor(curves).T,
                       settings.responses_per_round * settings.rounds)
