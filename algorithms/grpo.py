import math
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


LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")
TOKEN_MEAN = ("dapo", "bnpo", "cispo", "vespo")
"""Loss types averaged over every response token of the batch (one process, no accumulation: TRL's
``num_items_in_batch`` and its local-batch ``bnpo`` count the same tokens)."""


@register("grpo")
class GRPO(RLWithReward):
    """Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath, Eq. 3) with every loss of TRL
    1.16's ``GRPOTrainer`` as ``loss_type``, its sequence-level importance ratio and its reward scaling.

    G responses per prompt; outcome advantages Â_i = (r_i − mean(r))/std(r) over the group (§4.1.2; the
    std of the batch or none: ``scale_rewards``). With ρ_t = π/π_old per token, or per response
    s_i = exp(mean_t log ρ_t) (``importance_sampling_level="sequence"``, GSPO: Zheng et al. 2025), the per-token term is
    - grpo, dr_grpo, dapo, bnpo, luspo: −min(ρ·Â, clip(ρ, 1 − ε_low, 1 + ε_high)·Â);
    - cispo (MiniMax-M1, MiniMax 2025): −sg(min(ρ, ε_high))·Â·log π_t (the weight clipped,
      not the update);
    - sapo (Gao et al. 2025): −(4/τ)·σ(τ(ρ − 1))·Â, τ = τ_pos for Â > 0 else τ_neg (a soft gate
      whose gradient at ρ = 1 is the plain policy gradient);
    - vespo (arXiv:2602.10693): −sg(φ(w))·Â·log π_t, φ(w) = e^λ·w^k·e^(−λw) on the response's
      ratio w = Π_t ρ_t (log w clamped to [log 1e-8, 20]), (k, λ) by the sign of Â;
    plus β·D_KL, the k3 estimator π_ref/π − log(π_ref/π) − 1 (Eq. 4), optionally weighted by ρ.
    Aggregation: grpo and sapo average each response's tokens, then responses; dr_grpo sums tokens and
    divides by the generation cap (Liu et al. 2025, Eq. 3); dapo (Yu et al. 2025, Eq. 8), bnpo, cispo
    and vespo average over every token of the batch; luspo (Liu et al. 2026) sums each response's tokens,
    so a sequence-level loss counts |o_i| times. ``off_policy_mask_threshold`` δ ≥ 0 drops responses
    with Â < 0 whose mean per-token KL(π_old‖π) exceeds δ (DeepSeek-AI 2025, DeepSeek-V3.2, §3.1).
    Rollout tensors ``(batch, T)``, batch = prompts × G; losses ``(batch,)`` (the loop's mean of them is
    the variant's aggregate).
    """

    paper = "Shao et al. 2024, arXiv:2402.03300"

    @dataclass(frozen=True)
    class Config(RewardModelChoice):
        strength = "beta"
        beta: float = param(0.04, ge=0)
        """β, the weight of the k3 KL penalty to π_ref in the loss (DeepSeekMath's 0.04)."""
        samples_per_prompt: int = param(4, ge=2)
        """G, responses per prompt (the group)."""
        loss_type: str = param("grpo", choices=LOSS_TYPES)
        """The per-token term and its aggregation (see the class): TRL 1.16's loss types."""
        epsilon_low: float = param(0.2, gt=0)
        """ε_low, the lower clip of the ratio (1 − ε_low)."""
        epsilon_high: float = param(-1.0)
        """ε_high, the upper clip (1 + ε_high; cispo: the weight's cap ε_max); negative: 0.28 for dapo
        (clip-higher), 5 for cispo (ScaleRL's ε_max), ε_low otherwise."""
        scale_rewards: str = param("auto", choices=("auto", "group", "batch", "none"))
        """Std normalisation of advantages; auto: none for dr_grpo, group otherwise."""
        kl_ratio_correction: bool = False
        """Weight the k3 term by ρ_t (TRL's use_bias_correction_kl): the KL of π, not of π_old's samples, on later minibatches."""
        importance_sampling_level: str = param("token", choices=("token", "sequence"), omit_default=True)
        """token: ρ_t per token; sequence: one ratio per response, exp of the mean log-ratio (GSPO)."""
        sapo_temperature_pos: float = param(1.0, gt=0, omit_default=True)
        """sapo: τ of the soft gate where Â > 0."""
        sapo_temperature_neg: float = param(1.05, gt=0, omit_default=True)
        """sapo: τ of the soft gate where Â ≤ 0."""
        vespo_k_pos: float = param(2.0, ge=0, omit_default=True)
        """vespo: the power k of φ for Â ≥ 0 (how fast weights below w = 1 fall)."""
        vespo_lambda_pos: float = param(3.0, gt=0, omit_default=True)
        """vespo: the decay λ of φ for Â ≥ 0 (how fast weights above w = 1 fall)."""
        vespo_k_neg: float = param(3.0, ge=0, omit_default=True)
        """vespo: the power k of φ for Â < 0."""
        vespo_lambda_neg: float = param(2.0, gt=0, omit_default=True)
        """vespo: the decay λ of φ for Â < 0."""
        off_policy_mask_threshold: float = param(-1.0, omit_default=True)
        """δ of the off-policy sequence mask; negative: off."""

    @property
    def clip_high(self) -> float:
        c = self.config
        if c.epsilon_high >= 0:
            return c.epsilon_high
        return {"dapo": 0.28, "cispo": 5.0}.get(c.loss_type, c.epsilon_low)

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
        log_ratio = logprobs - rollout.logprobs
        if c.importance_sampling_level == "sequence":
            ratio = torch.exp(masked_mean(log_ratio, mask, dim=1))[:, None]  # (batch, 1)
        else:
            ratio = torch.exp(log_ratio)
        per_token, clipped = self._policy_term(logprobs, log_ratio, ratio, advantages, mask)
        kl = torch.exp(rollout.ref_logprobs - logprobs) - (rollout.ref_logprobs - logprobs) - 1
        if c.kl_ratio_correction:
            kl = kl * ratio
        if c.off_policy_mask_threshold >= 0:
            drift = masked_mean(rollout.logprobs - logprobs.detach(), mask, dim=1)  # mean per-token KL(π_old‖π)
            keep = (advantages.sum(1) >= 0) | (drift <= c.off_policy_mask_threshold)
            per_token = per_token * keep[:, None].float()
        if c.beta:
            per_token = per_token + c.beta * kl
        if c.loss_type in ("grpo", "sapo"):
            losses = masked_mean(per_token, mask, dim=1)
        elif c.loss_type == "dr_grpo":
            losses = (per_token * mask).sum(1) / (rollout.max_tokens or mask.shape[1])
        elif c.loss_type == "luspo":
            losses = (per_token * mask).sum(1)
        else:  # Σ over the batch's tokens / their count, written per response
            losses = (per_token * mask).sum(1) * mask.shape[0] / mask.sum().clamp(min=1)
        return LossOutput(losses, {"kl": masked_mean(kl, mask, 1).detach(),
                                   "clip_fraction": masked_mean(clipped.expand_as(mask).float(), mask, 1)})

    def _policy_term(self, logprobs: Tensor, log_ratio: Tensor, ratio: Tensor, advantages: Tensor,
                     mask: Tensor) -> tuple[Tensor, Tensor]:
        """The per-token policy term of the loss type ``(batch, T)`` (or ``(batch, 1)`` broadcast) and
        where its weight was clipped."""
        c = self.config
        if c.loss_type == "cispo":
            weight = ratio.clamp(max=self.clip_high)
            return -weight.detach() * advantages * logprobs, ratio > self.clip_high
        if c.loss_type == "sapo":
            tau = torch.where(advantages > 0, c.sapo_temperature_pos, c.sapo_temperature_neg)
            return -torch.sigmoid(tau * (ratio - 1)) * 4 / tau * advantages, torch.zeros_like(ratio, dtype=torch.bool)
        if c.loss_type == "vespo":
            phi = self._gamma_weights(log_ratio, mask, advantages.sum(1, keepdim=True) >= 0)
            return -phi * advantages * logprobs, torch.zeros_like(ratio, dtype=torch.bool)
        clipped = ratio.clamp(1 - c.epsilon_low, 1 + self.clip_high)
        return -torch.min(ratio * advantages, clipped * advantages), ratio != clipped

    @torch.no_grad()
    def _gamma_weights(self, log_ratio: Tensor, mask: Tensor, nonnegative: Tensor) -> Tensor:
        """VESPO's φ(w) = exp(λ + k·log w − λ·w) of each response's ratio w (normalised so φ(1) = 1), in
        log space as its authors compute it; ``(batch, 1)``, no gradient (a weight of the update)."""
        c = self.config
        log_w = (log_ratio.clamp(-20.0, 20.0) * mask).sum(1, keepdim=True).clamp(math.log(1e-8), 20.0)
        k = torch.where(nonnegative, c.vespo_k_pos, c.vespo_k_neg)
        lam = torch.where(nonnegative, c.vespo_lambda_pos, c.vespo_lambda_neg).clamp(min=1e-4)
        return torch.exp(lam + k * log_w - lam * torch.exp(log_w)).nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
