from dataclasses import dataclass

import torch
from torch import Tensor

from prefzoo import LossOutput, RLWithReward, RewardModelChoice, Rollout, param, register
from prefzoo.algorithms.ppo import kl_penalised_rewards, masked_mean, whiten


@register("reinforce-pp")
class ReinforcePP(RLWithReward):
    """REINFORCE++ (Hu 2025, Eqs. 1–3): PPO's clipped objective and per-token KL reward without a critic.

    Per-token reward r_t = −β·log π_old(y_t)/π_ref(y_t), plus the score r(x, y) on the last token; the
    advantage of token t is its return A_t = Σ_{s≥t} γ^{s−t} r_s (γ = 1: the score minus the KL still
    to come), normalised over every response token of the global batch, A ← (A − μ_batch)/σ_batch.
    Loss per token −min(ρ_t·A_t, clip(ρ_t, 1 ± ε)·A_t), ρ_t = π/π_old, averaged over each response's
    tokens, then over responses (``loss_aggregation``: or over every token of the batch at once). One
    response per prompt by default. Rollout tensors ``(batch, T)``; losses ``(batch,)``.
    """

    paper = "Hu 2025, arXiv:2501.03262"

    @dataclass(frozen=True)
    class Config(RewardModelChoice):
        strength = "kl_coef"
        kl_coef: float = param(0.01, ge=0)
        """β, the weight of the per-token KL penalty in the reward (the paper's 0.01)."""
        gamma: float = param(1.0, gt=0, le=1)
        """γ, the discount of the returns."""
        clip_range: float = param(0.2, gt=0)
        """ε, the clip of the token ratio."""
        samples_per_prompt: int = param(1, ge=1)
        """Responses per prompt (the paper's baseline is the batch, not a group)."""
        loss_aggregation: str = param("sequence", choices=("sequence", "token"), omit_default=True)
        """sequence: each response's tokens averaged, then responses (OpenRLHF's code in January 2025);
        token: every token of the batch averaged at once (its ``token_level_loss``, default since April 2025)."""

    def token_rewards(self, rollout: Rollout) -> Tensor:
        return kl_penalised_rewards(rollout.scores, rollout.logprobs - rollout.ref_logprobs, self.config.kl_coef,
                                    rollout.mask)

    def advantages(self, rollout: Rollout, rewards: Tensor) -> tuple[Tensor, Tensor]:
        mask = rollout.mask.float()
        returns = torch.zeros_like(rewards)
        running = torch.zeros_like(rewards[:, 0])
        for t in reversed(range(rewards.shape[1])):
            running = (rewards[:, t] + self.config.gamma * running) * mask[:, t]
            returns[:, t] = running
        return whiten(returns, mask), returns

    def loss(self, logprobs: Tensor, values: Tensor | None, rollout: Rollout, advantages: Tensor, returns: Tensor,
             entropy: Tensor | None = None) -> LossOutput:
        mask, eps = rollout.mask.float(), self.config.clip_range
        ratio = torch.exp(logprobs - rollout.logprobs)
        clipped = ratio.clamp(1 - eps, 1 + eps)
        per_token = -torch.min(ratio * advantages, clipped * advantages)
        if self.config.loss_aggregation == "token":  # Σ over the batch's tokens / their count, written per response
            losses = (per_token * mask).sum(1) * mask.shape[0] / mask.sum().clamp(min=1)
        else:
            losses = masked_mean(per_token, mask, 1)
        return LossOutput(losses,
                          {"clip_fraction": masked_mean((ratio != clipped).float(), mask, 1)})
