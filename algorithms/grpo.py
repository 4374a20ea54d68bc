from dataclasses import dataclass

import torch
from torch import Tensor

from prefzoo import LossOutput, RLWithReward, RewardModelChoice, Rollout, param, register
from prefzoo.algorithms.ppo import kl_penalised_rewards, masked_mean


def group_advantages(scores: Tensor, group_size: int, scale: str, eps: float = 1e-4) -> Tensor:
    """r_i − mean of its group, divided by the group's (``"group"``) or the batch's (``"batch"``)
    standard deviation (Bessel-corrected) + ε, or not divided (``"none"``); ``(batch,)``, groups of
    ``group_size`` consecutive rows."""
    grouped = scores.reshape(-1, group_size)
    centred = (grouped - grouped.mean(1, keepdim=True)).reshape(-1)
    if scale == "group":
        return centred / (grouped.std(1, keepdim=True).expand_as(grouped).reshape(-1) + eps)
    if scale == "batch":
        return centred / (scores.std() + eps)
    return centred


@register("grpo")
class GRPO(RLWithReward):
    """Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath, Eq. 3), with its Dr. GRPO
    (Liu et al. 2025, Eq. 3) and DAPO (Yu et al. 2025, Eq. 8) variants as ``loss_type``.

    G responses per prompt; outcome advantages Â_{i,t} = (r_i − mean(r))/std(r) over the group (§4.1.2);
    per token −min(ρ_t·Â, clip(ρ_t, 1 − ε_low, 1 + ε_high)·Â) + β·D_KL, ρ_t = π/π_old, and
    D_KL = π_ref/π − log(π_ref/π) − 1 the k3 estimator (Eq. 4), in the loss rather than the reward.
    Aggregation: ``grpo`` averages over each response's tokens, then over responses (1/|o_i|);
    ``dr_grpo`` sums each response's tokens and divides by the constant generation cap (no length bias)
    and does not divide advantages by the group's std; ``dapo`` averages over every token of the batch
    and clips higher (ε_high = 0.28 by default, its paper's). Rollout tensors are ``(batch, T)``,
    batch = prompts × G; losses ``(batch,)`` (the loop's mean of them is the variant's aggregate).
    """

    paper = "Shao et al. 2024, arXiv:2402.03300"

    @dataclass(frozen=True)
    class Config(RewardModelChoice):
        strength = "beta"
        beta: float = param(0.04, ge=0)
        """β, the weight of the k3 KL penalty to π_ref in the loss (DeepSeekMath's 0.04)."""
        samples_per_prompt: int = param(4, ge=2)
        """G, responses per prompt (the group)."""
        loss_type: str = param("grpo", choices=("grpo", "dr_grpo", "dapo"))
        """grpo: per-response token mean; dr_grpo: token sum / generation cap, no std scaling; dapo: batch token mean."""
        epsilon_low: float = param(0.2, gt=0)
        """ε_low, the lower clip of the ratio (1 − ε_low)."""
        epsilon_high: float = param(-1.0)
        """ε_high, the upper clip (1 + ε_high); negative: 0.28 for dapo (clip-higher), ε_low otherwise."""
        scale_rewards: str = param("auto", choices=("auto", "group", "batch", "none"))
        """Std normalisation of advantages; auto: none for dr_grpo, group otherwise."""
        kl_ratio_correction: bool = False
        """Weight the k3 term by ρ_t (TRL's use_bias_correction_kl): the KL of π, not of π_old's samples, on later minibatches."""

    @property
    def clip_high(self) -> float:
        c = self.config
        if c.epsilon_high >= 0:
            return c.epsilon_high
        return 0.28 if c.loss_type == "dapo" else c.epsilon_low

    @property
    def scale(self) -> str:
        c = self.config
        if c.scale_rewards != "auto":
            return c.scale_rewards
        return "none" if c.loss_type == "dr_grpo" else "group"

    def token_rewards(self, rollout: Rollout) -> Tensor:
        """The outcome reward on the last token; the KL is a loss term here (Eq. 3), not a reward."""
        return kl_penalised_rewards(rollout.scores, torch.zeros_like(rollout.logprobs), 0.0, rollout.mask)

    def advantages(self, rollout: Rollout, rewards: Tensor) -> tuple[Tensor, Tensor]:
        mask = rollout.mask.float()
        adv = group_advantages(rewards.sum(1), rollout.group_size, self.scale)
        return adv[:, None] * mask, torch.zeros_like(mask)

    def loss(self, logprobs: Tensor, values: Tensor | None, rollout: Rollout, advantages: Tensor, returns: Tensor,
             entropy: Tensor | None = None) -> LossOutput:
        c, mask = self.config, rollout.mask.float()
        ratio = torch.exp(logprobs - rollout.logprobs)
        clipped = ratio.clamp(1 - c.epsilon_low, 1 + self.clip_high)
        per_token = -torch.min(ratio * advantages, clipped * advantages)
        kl = torch.exp(rollout.ref_logprobs - logprobs) - (rollout.ref_logprobs - logprobs) - 1
        if c.kl_ratio_correction:
            kl = kl * ratio
        if c.beta:
            per_token = per_token + c.beta * kl
        if c.loss_type == "grpo":
            losses = masked_mean(per_token, mask, dim=1)
        elif c.loss_type == "dr_grpo":
            losses = (per_token * mask).sum(1) / (rollout.max_tokens or mask.shape[1])
        else:  # dapo: Σ over the batch's tokens / their count, written per response
            losses = (per_token * mask).sum(1) * mask.shape[0] / mask.sum().clamp(min=1)
        return LossOutput(losses, {"kl": masked_mean(kl, mask, 1).detach(),
                                   "clip_fraction": masked_mean((ratio != clipped).float(), mask, 1)})
