from dataclasses import dataclass

import torch
from torch import Tensor

from prefzoo import LossOutput, RLWithReward, RewardModelChoice, Rollout, param, register


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1) if dim is None else (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def kl_penalised_rewards(scores: Tensor, kl: Tensor, kl_coef: float, mask: Tensor) -> Tensor:
    """Per-token rewards ``(batch, T)``: −β·kl_t on every response token, plus each response's score
    ``(batch,)`` on its last response token (the reward of Ouyang et al. 2022, Eq. 2, per token)."""
    mask = mask.float()
    rewards = -kl_coef * kl * mask
    last = (mask.cumsum(1) * mask).argmax(1)  # index of each row's last response token
    rewards[torch.arange(len(last)), last] += scores.to(rewards.dtype)
    return rewards


def whiten(x: Tensor, mask: Tensor, eps: float = 1e-8) -> Tensor:
    """(x − mean)/std over the masked entries (advantage normalisation)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) * torch.rsqrt(var + eps) * mask


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016, Eq. 16) on ``(batch, T)`` tensors:
    δ_t = r_t + γ·V_{t+1} − V_t with V = 0 after the last response token, A_t = δ_t + γλ·A_{t+1};
    returns (advantages, returns = A + V), both zero off the mask."""
    values = values * mask
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        advantages[:, t] = last
    return advantages, (advantages + values) * mask


class RunningMoments:
    """Mean and standard deviation of every score seen so far (Welford, batched): reward normalisation."""

    def __init__(self):
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, x: Tensor) -> None:
        n, mean, var = x.numel(), x.double().mean().item(), x.double().var(unbiased=False).item()
        total = self.count + n
        delta = mean - self.mean
        self.m2 += var * n + delta ** 2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    @property
    def std(self) -> float:
        return (self.m2 / self.count) ** 0.5 if self.count > 1 else 1.0


@register("ppo")
class PPO(RLWithReward):
    """PPO-RLHF (Ouyang et al. 2022) with the PPO-max choices of Zheng et al. 2023 ("Secrets of RLHF in
    Large Language Models Part I"), each a Config field, PPO-max by default.

    Per-token reward: r_t = −β_KL·k_t, plus the reward model's score (normalised by its running mean and
    standard deviation, then clipped to ±``score_clip``) on the last response token; k_t = log π/π_ref
    (k1) or (ρ − 1) − log ρ with ρ = π_ref/π (k3). Advantages: GAE (Schulman et al. 2016, Eq. 16),
    whitened. Policy loss: the clipped surrogate −min(ρ_t·A_t, clip(ρ_t, 1 ± ε)·A_t) (Schulman et al.
    2017, Eq. 7), ρ_t = π/π_old; value loss ½·max((V − R)², (clip(V, V_old ± ε_V) − R)²); minus an
    entropy bonus c_H·H_t. Global gradient clipping (PPO-max) is the loop's ``max_grad_norm``. Rollout tensors are ``(batch, T)`` with a response mask; losses ``(batch,)``.
    """

    paper = "Ouyang et al. 2022, arXiv:2203.02155; Zheng et al. 2023, arXiv:2307.04964"

    @dataclass(frozen=True)
    class Config(RewardModelChoice):
        strength = "kl_coef"
        kl_coef: float = param(0.05, ge=0)
        """β_KL, the weight of the per-token KL penalty to π_ref."""
        kl_estimator: str = param("k1", choices=("k1", "k3"))
        """k1 = log π/π_ref (unbiased, can be negative); k3 = (ρ − 1) − log ρ, ρ = π_ref/π (non-negative)."""
        gamma: float = param(1.0, gt=0, le=1)
        """γ, the discount of GAE."""
        lam: float = param(0.95, ge=0, le=1)
        """λ, the bias–variance trade-off of GAE."""
        clip_range: float = param(0.2, gt=0)
        """ε, the policy ratio clip."""
        value_clip: float = param(0.2, ge=0)
        """ε_V, the value clip around V_old (0: no value clipping)."""
        value_coef: float = param(0.5, ge=0)
        """Weight of the value loss in the per-sequence loss."""
        normalize_score: bool = True
        """Normalise reward-model scores by their running mean and standard deviation (PPO-max)."""
        score_clip: float = param(5.0, ge=0)
        """Clip normalised scores to ±this (0: no clipping)."""
        whiten_advantages: bool = True
        """Normalise advantages over the batch (PPO-max)."""
        critic_from_reward_model: bool = True
        """Initialise the critic's adapter and head from the reward model (PPO-max), its head mapped
        onto the normalised score scale after the first batch (w/σ, (b − μ)/σ)."""
        entropy_coef: float = param(0.0, ge=0)
        """c_H, the entropy bonus (PPO-max uses none)."""
        ptx_coef: float = param(0.0, ge=0)
        """Weight of a pretraining (language-modelling) loss where the loop has such data."""

    uses_critic = True

    def __init__(self, config=None):
        super().__init__(config)
        self.score_moments = RunningMoments()

    @property
    def uses_entropy(self) -> bool:
        return self.config.entropy_coef > 0

    @property
    def critic_from_reward_model(self) -> bool:
        return self.config.critic_from_reward_model

    def pretraining_data_requirement(self) -> str | None:
        return f"ptx_coef = {self.config.ptx_coef}" if self.config.ptx_coef else None

    def score_normalisation(self) -> tuple[float, float]:
        if not self.config.normalize_score:
            return 0.0, 1.0
        return self.score_moments.mean, max(self.score_moments.std, 1e-8)

    def kl(self, rollout: Rollout) -> Tensor:
        log_ratio = rollout.logprobs - rollout.ref_logprobs
        if self.config.kl_estimator == "k1":
            return log_ratio
        return torch.expm1(-log_ratio) + log_ratio  # (ρ − 1) − log ρ, ρ = π_ref/π

    def scores(self, rollout: Rollout) -> Tensor:
        """The scores as the reward uses them: normalised by the running moments (updated with this
        batch first), then clipped."""
        scores = rollout.scores.float()
        if self.config.normalize_score:
            self.score_moments.update(scores)
            scores = (scores - self.score_moments.mean) / max(self.score_moments.std, 1e-8)
        if self.config.score_clip:
            scores = scores.clamp(-self.config.score_clip, self.config.score_clip)
        return scores

    def token_rewards(self, rollout: Rollout) -> Tensor:
        return kl_penalised_rewards(self.scores(rollout), self.kl(rollout), self.config.kl_coef, rollout.mask)

    def advantages(self, rollout: Rollout, rewards: Tensor) -> tuple[Tensor, Tensor]:
        mask = rollout.mask.float()
        advantages, returns = gae(rewards, rollout.values, mask, self.config.gamma, self.config.lam)
        if self.config.whiten_advantages:
            advantages = whiten(advantages, mask)
        return advantages, returns

    def loss(self, logprobs: Tensor, values: Tensor, rollout: Rollout, advantages: Tensor, returns: Tensor,
             entropy: Tensor | None = None) -> LossOutput:
        c, mask = self.config, rollout.mask.float()
        ratio = torch.exp(logprobs - rollout.logprobs)
        policy = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - c.clip_range, 1 + c.clip_range))
        value = (values - returns) ** 2
        if c.value_clip:
            clipped = rollout.values + (values - rollout.values).clamp(-c.value_clip, c.value_clip)
            value = torch.max(value, (clipped - returns) ** 2)
        per_token = policy + c.value_coef * 0.5 * value
        if c.entropy_coef and entropy is not None:
            per_token = per_token - c.entropy_coef * entropy
        losses = masked_mean(per_token, mask, dim=1)
        return LossOutput(losses, {"policy_loss": masked_mean(policy, mask, 1).detach(),
                                   "value_loss": masked_mean(0.5 * value, mask, 1).detach(),
                                   "clip_fraction": masked_mean(((ratio - 1).abs() > c.clip_range).float(),
                                                                mask, 1)})
