from dataclasses import dataclass

from prefzoo import AlgorithmConfig, LossOutput, OnlinePreference, PairLogps, PairOrigins, param, register
from prefzoo.algorithms.dpo import DPO


@register("xpo")
class XPO(OnlinePreference):
    """Exploratory Preference Optimization (Xie et al. 2024, Algorithm 1, the update of line 6).

    Each round y ~ π_t and ỹ ~ π_ref (the base with adapters disabled) are labelled and added to the
    growing dataset D_pref; the policy minimises, over every pair labelled so far,

        α·log π(ỹ|x) − log σ(β·h),   h = log π(y⁺)/π_ref(y⁺) − log π(y⁻)/π_ref(y⁻),

    where ỹ is whichever response of the pair the reference sampled and the second term is DPO's loss
    (Rafailov et al. 2023, Eq. 7). Lowering the likelihood of what
    π_ref would say is the optimism that drives exploration; α = 0 is DPO on the same pairs. α follows
    a linear schedule from ``alpha`` to ``alpha_final`` over the rounds when ``alpha_final`` ≥ 0.
    Inputs and losses share the shape of ``PairLogps``.
    """

    paper = "Xie et al. 2024, arXiv:2405.21046"
    samplers = ("policy", "reference")
    keeps_all_data = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the strength of the KL constraint to π_ref."""
        alpha: float = param(1e-5, ge=0)
        """α, the weight of the exploration term α·log π(ỹ) (TRL's XPOConfig default)."""
        alpha_final: float = param(-1.0, ge=-1.0)
        """α at the last round of a linear schedule; −1: α stays constant."""

    def alpha_at(self, progress: float) -> float:
        c = self.config
        return c.alpha if c.alpha_final < 0 else c.alpha + (c.alpha_final - c.alpha) * progress

    def loss(self, pairs: PairLogps, origins: PairOrigins, progress: float) -> LossOutput:
        dpo = DPO(DPO.Config(beta=self.config.beta)).loss(pairs)
        reference_sample = (pairs.policy_chosen * origins.chosen_from_reference
                            + pairs.policy_rejected * origins.rejected_from_reference)
        alpha = self.alpha_at(progress)
        return LossOutput(dpo.losses + alpha * reference_sample,
                          {**dpo.metrics, "log_pi_reference_sample": reference_sample.detach()})
