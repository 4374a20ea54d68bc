from dataclasses import dataclass

import torch
import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 − exp(x)) for x < 0, stable on both sides of −log 2 (Mächler 2012)."""
    return torch.where(x > -0.6931471805599453, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


@register("orpo")
class ORPO(Pairwise):
    """Odds Ratio Preference Optimization (Hong et al. 2024, Eq. 6–7): supervised fine-tuning on the
    chosen response plus an odds-ratio penalty, without a reference model.

    With P(y) = exp(mean over tokens of log π(y_t | x, y_<t)) and odds(y) = P(y)/(1 − P(y)):
    loss = NLL(y_w) − λ·log σ(log odds(y_w) − log odds(y_l)), log odds(y) = log P − log(1 − P).
    NLL(y_w) is the mean over every chosen token of the batch (a token-weighted mean, as TRL's
    ORPOTrainer computes it). Inputs and losses share the shape of ``PairLogps``; the batch is the last
    axis.
    """

    paper = "Hong et al. 2024, arXiv:2403.07691"
    uses_reference = False
    uses_lengths = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "lambda_"
        lambda_: float = param(0.1, gt=0)
        """λ, the weight of the odds-ratio term (Eq. 6; TRL's ``beta``, default 0.1)."""

    def implicit_reward(self, logp, ref_logp, tokens):
        mean = logp / tokens
        return mean - log1mexp(mean)

    def loss(self, b: PairLogps) -> LossOutput:
        chosen, rejected = b.policy_chosen / b.chosen_tokens, b.policy_rejected / b.rejected_tokens
        log_odds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected))
        nll = -b.policy_chosen * b.chosen_tokens.shape[-1] / b.chosen_tokens.sum(-1, keepdim=True)
        return LossOutput(nll - self.config.lambda_ * F.logsigmoid(log_odds), {"margin": log_odds, "nll": nll})
