from dataclasses import dataclass

import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("cpo")
class CPO(Pairwise):
    """Contrastive Preference Optimization (Xu et al. 2024, Eq. 3 and 5): a reference-free preference
    term plus the negative log-likelihood of the chosen response.

    loss = −(1−ε)·log σ(β·(log π(y_w) − log π(y_l))) − ε·log σ(−β·(…)) + α·NLL(y_w), with sequence
    log-probs summed over tokens and NLL(y_w) the mean over every chosen token of the batch (as TRL's
    CPOTrainer computes it: a token-weighted mean, so pair i carries −log π(y_w,i)·B / Σ_j |y_w,j|).
    No reference forward is run. Inputs and losses share the shape of ``PairLogps``; the batch is the
    last axis.
    """

    paper = "Xu et al. 2024, arXiv:2401.08417"
    uses_reference = False
    uses_lengths = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the scale of the log-likelihood margin (Eq. 3)."""
        nll_weight: float = param(1.0, ge=0)
        """α, the weight of the chosen response's negative log-likelihood (TRL's ``cpo_alpha``)."""
        label_smoothing: float = param(0.0, ge=0, lt=0.5)
        """ε, the weight of the reversed logistic term."""

    def implicit_reward(self, logp, ref_logp, tokens):
        return logp

    def loss(self, b: PairLogps) -> LossOutput:
        c = self.config
        margin = b.policy_chosen - b.policy_rejected
        preference = -(1 - c.label_smoothing) * F.logsigmoid(c.beta * margin) - c.label_smoothing * F.logsigmoid(-c.beta * margin)
        nll = -b.policy_chosen * b.chosen_tokens.shape[-1] / b.chosen_tokens.sum(-1, keepdim=True)
        return LossOutput(preference + c.nll_weight * nll, {"margin": margin, "nll": nll})
