"""The online family on a K-armed bandit, where exploration can be watched.

Arms k = 0 … K−1 have true reward r_k = k/(K−1); the reference policy π_ref(k) ∝ exp(−λk) rarely
plays the best arm (λ = 0.7, K = 10: π_ref(best) ≈ 0.1%), the hard case for exploration that Xie et
al. 2024 study. The policy π = softmax(θ) starts at π_ref. Each round every seed draws
``pairs_per_round`` pairs from the algorithm's samplers (π_t or π_ref), a Bradley–Terry oracle on the
true reward labels them (one query per pair), the pairs join the dataset (or replace it, for an
algorithm that trains on fresh pairs only), and Adam takes ``updates_per_round`` full-batch steps on
the algorithm's own ``loss`` — the code the LM loop calls. Seeds are one tensor axis.

Reported per seed: the final expected true reward E_π[r], π(best arm), KL(π‖π_ref), cumulative regret
Σ_t (max r − E_{π_t}[r]), and the oracle queries and sampled responses it cost.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from prefzoo.algorithms.engine.oracles import BradleyTerryOracle, PreferenceOracle
from prefzoo.algorithms.framework.base import OnlinePreference, PairLogps, PairOrigins
from prefzoo.algorithms.framework.config import AlgorithmConfig


@dataclass(frozen=True)
class OnlineBanditSettings:
    arms: int = 10
    reference_decay: float = 0.7
    """λ of π_ref(k) ∝ exp(−λk)."""
    rounds: int = 100
    pairs_per_round: int = 4
    updates_per_round: int = 10
    lr: float = 0.05
    """Adam learning rate on θ."""
    label_temperature: float = 0.1
    """T of the Bradley–Terry oracle on the true reward."""
    seeds: int = 10
    curve_points: int = 21
    base_seed: int = 0
    first_seed: int = 0
    """The number of the first seed (seeds run from it on); seed s draws the same numbers in any run, so
    it is not part of the settings' hash."""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "first_seed"}

    def true_rewards(self) -> torch.Tensor:
        return torch.linspace(0, 1, self.arms, dtype=torch.float64)

    def reference_logp(self) -> torch.Tensor:
        return torch.log_softmax(-self.reference_decay * torch.arange(self.arms, dtype=torch.float64), 0)


@dataclass
class OnlineBanditRun:
    """One (algorithm, config): per-seed outcomes ``(seeds,)`` and the E_π[r] curve ``(points, seeds)``."""

    algorithm: type[OnlinePreference]
    config: AlgorithmConfig
    final_reward: torch.Tensor
    best_arm_prob: torch.Tensor
    kl: torch.Tensor
    regret: torch.Tensor
    curve_rounds: list[int]
    curve: torch.Tensor
    oracle_queries: int
    responses_sampled: int
    dataset_sizes: list[int]
    """Pairs per seed in the dataset after each round (Algorithm 1: t × pairs_per_round)."""
    trained_sizes: list[int]
    """Pairs per seed each round's update trained on."""


def run_online_bandit(cls: type[OnlinePreference], config: AlgorithmConfig | None = None,
                      settings: OnlineBanditSettings = OnlineBanditSettings(),
                      oracle: PreferenceOracle | None = None) -> OnlineBanditRun:
    """Run ``cls`` online on the bandit for every seed at once (seeds are a tensor axis)."""
    algorithm = cls(config or cls.Config())
    S, K, m = settings.seeds, settings.arms, settings.pairs_per_round
    rewards = settings.true_rewards()
    ref_logp = settings.reference_logp().float()
    # One generator and one labelling oracle per seed: seed s draws the same numbers in any run.
    numbers = [hash((settings.base_seed, settings.first_seed + s)) & 0x7FFF_FFFF for s in range(S)]
    generators = [torch.Generator().manual_seed(n) for n in numbers]
    oracles = [oracle] if oracle else [BradleyTerryOracle(lambda _, arms: rewards[arms], settings.label_temperature,
                                                          seed=n + 1) for n in numbers]
    theta = ref_logp.repeat(S, 1).requires_grad_(True)  # π_0 = π_ref
    optimiser = torch.optim.Adam([theta], lr=settings.lr)
    chosen, rejected = torch.empty(S, 0, dtype=torch.long), torch.empty(S, 0, dtype=torch.long)
    chosen_ref, rejected_ref = torch.empty(S, 0, dtype=torch.bool), torch.empty(S, 0, dtype=torch.bool)
    regret = torch.zeros(S, dtype=torch.float64)
    points = sorted({round(i * settings.rounds / (settings.curve_points - 1)) for i in range(settings.curve_points)})
    curve, sizes, trained = [], [], []

    def expected_reward() -> torch.Tensor:
        return (torch.softmax(theta.detach().double(), -1) * rewards).sum(-1)

    for t in range(settings.rounds):
        if t in points:
            curve.append(expected_reward())
        regret += rewards.max() - expected_reward()
        probs = {"policy": torch.softmax(theta.detach(), -1), "reference": ref_logp.exp().expand(S, K)}
        a, b = (torch.stack([torch.multinomial(probs[s][i], m, replacement=True, generator=g)
                             for i, g in enumerate(generators)]) for s in algorithm.samplers)
        first_wins = (oracle(None, a.flatten(), b.flatten()).view(S, m) if oracle else
                      torch.stack([o(None, a[i], b[i]) for i, o in enumerate(oracles)]))
        a_ref, b_ref = (torch.full((S, m), s == "reference") for s in algorithm.samplers)
        new = (torch.where(first_wins, a, b), torch.where(first_wins, b, a),
               torch.where(first_wins, a_ref, b_ref), torch.where(first_wins, b_ref, a_ref))
        chosen, rejected, chosen_ref, rejected_ref = (torch.cat([old, n], 1) for old, n in
                                                      zip((chosen, rejected, chosen_ref, rejected_ref), new))
        sizes.append(chosen.shape[1])
        data = (chosen, rejected, chosen_ref, rejected_ref) if algorithm.keeps_all_data else new
        trained.append(data[0].shape[1])
        progress = t / max(settings.rounds - 1, 1)
        for _ in range(settings.updates_per_round):
            logp = torch.log_softmax(theta, -1)
            pairs = PairLogps(logp.gather(1, data[0]), logp.gather(1, data[1]), ref_logp[data[0]], ref_logp[data[1]],
                              torch.ones(data[0].shape), torch.ones(data[0].shape))
            loss = algorithm.loss(pairs, PairOrigins(data[2], data[3]), progress).losses.mean(-1).sum()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    curve.append(expected_reward())
    pi = torch.softmax(theta.detach().double(), -1)
    kl = (pi * (pi.log() - settings.reference_logp())).sum(-1)
    return OnlineBanditRun(cls, algorithm.config, expected_reward(), pi[:, -1], kl, regret, points + [settings.rounds]
                           if settings.rounds not in points else points, torch.stack(curve), sum(o.queries for o in oracles),
                           2 * m * settings.rounds * S, sizes, trained)
