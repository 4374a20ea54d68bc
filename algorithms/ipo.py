from dataclasses import dataclass

import torch
from torch import Tensor

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("ipo")
class IPO(Pairwise):
    """Identity Preference Optimisation (Azar et al. 2023, Eq. 17).

    loss = (h − 1/(2τ))², h the log-ratio margin. With ``average_log_ratio`` each response's log-ratio
    is divided by its length |y| before the margin is taken, as TRL does (its comment says the IPO
    authors confirmed this form for their results); a bandit arm has |y| = 1, so the two forms agree
    there. Inputs and losses share the shape of ``PairLogps``.
    """

    paper = "Azar et al. 2023, arXiv:2310.12036"
    uses_lengths = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "tau"
        tau: float = param(0.1, gt=0)
        """τ, the regularisation towards π_ref (Eq. 17); the margin's target is 1/(2τ)."""
        average_log_ratio: bool = True
        """Divide each response's log-ratio by its token count |y| (TRL's `ipo`); False is Eq. 17 on summed log-probs."""

    def loss(self, b: PairLogps) -> LossOutput:
        if self.config.average_log_ratio:
            margin = b.chosen_logratio / b.chosen_tokens - b.rejected_logratio / b.rejected_tokens
        else:
            margin = b.logratio_margin
        return LossOutput((margin - 1 / (2 * self.config.tau)) ** 2, {"margin": margin})

    def bandit_fixed_point(self, n_arms: int, pairs: tuple[tuple[int, int], ...],
                           safe: tuple[bool, ...] | None = None) -> Tensor:
        """π at the minimiser of E_p[(h_p − 1/(2τ))²] (Eq. 17's population form): h_p = θ_w − θ_l on a
        bandit, so θ is the least-squares solution of A θ = 1/(2τ), A's rows e_w − e_l; arms outside
        every pair keep θ = 0, as they receive no gradient. Two arms: σ(1/(2τ)) (Azar et al. §5.2);
        D1: θ_a − θ_b = θ_b − θ_c = 1/(3τ)."""
        return squared_margin_fixed_point(n_arms, pairs, torch.full((len(pairs),), 1 / (2 * self.config.tau)))


def squared_margin_fixed_point(n_arms: int, pairs: tuple[tuple[int, int], ...], targets: Tensor) -> Tensor:
    """π = softmax(θ) minimising Σ_p (θ_w − θ_l − t_p)² over pairs p = (w, l) drawn uniformly, for a
    uniform π_ref: θ is the minimum-norm least-squares solution of A θ = t, A's rows e_w − e_l (an arm in
    no pair keeps θ = 0). ``targets``: (pairs,)."""
    A = torch.zeros(len(pairs), n_arms, dtype=torch.float64)
    for row, (w, l) in enumerate(pairs):
        A[row, w] += 1
        A[row, l] -= 1
    return torch.softmax(torch.linalg.pinv(A) @ targets.to(torch.float64), 0)
