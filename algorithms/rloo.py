from dataclasses import dataclass

import torch
from torch import Tensor

from prefzoo import LossOutput, RLWithReward, RewardModelChoice, Rollout, param, register
from prefzoo.algorithms.ppo import kl_penalised_rewards


@register("rloo")
class RLOO(RLWithReward):
    """REINFORCE Leave-One-Out (Ahmadian et al. 2024, Eq. 6; Kool et al. 2019).

    k responses per prompt; each response's reward is its score minus β times its sequence KL to π_ref,
    R(y) = r(x, y) − β·Σ_t log π_old(y_t)/π_ref(y_t) (the k1 estimator, as TRL's RLOOTrainer); the
    baseline of response i is the mean reward of the other k − 1, A_i = R_i − 1/(k−1)·Σ_{j≠i} R_j.
    The update is REINFORCE on whole sequences, written as TRL writes it: −min(ρ·A, clip(ρ, 1 ± ε)·A)
    with the sequence ratio ρ = π(y)/π_old(y), which equals the REINFORCE gradient on the first pass
    over fresh samples and keeps later minibatches of the same rollout near π_old. Rollout tensors
    ``(batch, T)``, batch = prompts × k; losses ``(batch,)``.
    """

    paper = "Ahmadian et al. 2024, arXiv:2402.14740"

    @dataclass(frozen=True)
    class Config(RewardModelChoice):
        strength = "beta"
        beta: float = param(0.05, ge=0)
        """β, the weight of the sequence KL penalty in the reward (TRL's RLOOConfig default)."""
        samples_per_prompt: int = param(4, ge=2)
        """k, responses per prompt; the baseline of each is the other k − 1."""
        clip_range: float = param(0.2, gt=0)
        """ε, the clip of the sequence ratio."""
        normalize_advantages: bool = False
        """Whiten advantages over the batch (TRL's normalize_advantages; off in the paper)."""

    def token_rewards(self, rollout: Rollout) -> Tensor:
        return kl_penalised_rewards(rollout.scores, rollout.logprobs - rollout.ref_logprobs, self.config.beta,
                                    rollout.mask)

    def advantages(self, rollout: Rollout, rewards: Tensor) -> tuple[Tensor, Tensor]:
        k = rollout.group_size
        if k < 2:
            raise ValueError(f"{self.name}: the leave-one-out baseline needs k ≥ 2 responses per prompt, got {k}")
        grouped = rollout.grouped(rewards.sum(1))
        adv = (grouped - (grouped.sum(1, keepdim=True) - grouped) / (k - 1)).reshape(-1)
        if self.config.normalize_advantages:
            adv = (adv - adv.mean()) / (adv.std() + 1e-4)
        mask = rollout.mask.float()
        return adv[:, None] * mask, torch.zeros_like(mask)

    def loss(self, logprobs: Tensor, values: Tensor | None, rollout: Rollout, advantages: Tensor, returns: Tensor,
             entropy: Tensor | None = None) -> LossOutput:
        mask, eps = rollout.mask.float(), self.config.clip_range
        adv = advantages[:, 0] if advantages.dim() == 2 else advantages  # one advantage per sequence
        ratio = torch.exp(((logprobs - rollout.logprobs) * mask).sum(1))
        clipped = ratio.clamp(1 - eps, 1 + eps)
        losses = -torch.min(ratio * adv, clipped * adv)
        return LossOutput(losses, {"advantage": adv.detach(), "clip_fraction": (ratio != clipped).float()})
