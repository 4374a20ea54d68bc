from dataclasses import dataclass

import torch
from torch import Tensor

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register
from prefzoo.algorithms.ipo import squared_margin_fixed_point


@register("bfpo")
class BFPO(Pairwise):
    """Bi-Factorial Preference Optimisation (Zhang et al. 2024, the supervised objective of §3,
    equivalent to RLHF on the bilinear reward (r_safe + E_safe)(r_help + ½) − τ·KL).

    Each pair (x, y_hw, y_hl) is ordered by helpfulness alone, and each response carries a binary
    safety label I_safe. The labelling function puts both factors into one global ranking —
    helpful-safe ≻ unhelpful-safe ≻ unhelpful-unsafe ≻ helpful-unsafe — as an IPO-style target:

        loss = (h − (B₃·(B₁·I_safe(y_hw) − I_safe(y_hl)) − α) / τ)²,   B₃ = 1/(B₁ − 1),

    h the log-ratio margin of the helpfulness-ordered pair. With the paper's B₁ = 3 the target is
    (3/2·I_safe(y_hw) − 1/2·I_safe(y_hl) − α)/τ: both safe → (1 − α)/τ, the more helpful one alone safe
    → (3/2 − α)/τ, the less helpful one alone safe → −(1/2 + α)/τ (the safe one is preferred), both
    unsafe → −α/τ. With α = ½ and every response safe it is IPO's (h − 1/(2τ))² (Azar et al. Eq. 17),
    which is how the authors train on single-factor data (their code sets I_safe = 1 for UltraFeedback).
    B₁ = 3, α = ½ as in the authors' trainer (``wx-zhang/bfpo``, ``src/alignment/trainer/bfpo.py``).
    Summed log-probs, as there. Inputs, safety labels (1.0 safe, 0.0 unsafe) and losses share the
    shape of ``PairLogps``.
    """

    paper = "Zhang et al. 2024, arXiv:2408.15313"
    uses_safety_labels = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "tau"
        tau: float = param(0.1, gt=0)
        """τ, the KL regularisation (the authors' β); the margin's targets scale with 1/τ."""
        b1: float = param(3.0, gt=1)
        """B₁, how far a safe response outranks an unsafe one; B₃ = 1/(B₁ − 1)."""
        alpha: float = param(0.5)
        """α, the shift of every target; ½ makes a pair of safe responses IPO's target 1/(2τ)."""

    def targets(self, chosen_safe: Tensor, rejected_safe: Tensor) -> Tensor:
        """The labelling function's margin target (B₃(B₁·I_w − I_l) − α)/τ; shaped like the labels."""
        c = self.config
        b3 = 1 / (c.b1 - 1)
        return (b3 * (c.b1 * chosen_safe - rejected_safe) - c.alpha) / c.tau

    def loss(self, b: PairLogps) -> LossOutput:
        margin = b.logratio_margin
        target = self.targets(b.chosen_safe.to(margin.dtype), b.rejected_safe.to(margin.dtype))
        return LossOutput((margin - target) ** 2, {"margin": margin, "target": target})

    def bandit_fixed_point(self, n_arms: int, pairs: tuple[tuple[int, int], ...],
                           safe: tuple[bool, ...] | None = None) -> Tensor:
        """π at the minimiser of the loss's population form: θ_w − θ_l fits each pair's target in the
        least-squares sense (as IPO's, with one target per pair); ``safe`` None labels every arm safe."""
        labels = torch.tensor([True] * n_arms if safe is None else list(safe), dtype=torch.float64)
        w, l = (torch.tensor(side) for side in zip(*pairs))
        return squared_margin_fixed_point(n_arms, pairs, self.targets(labels[w], labels[l]))
