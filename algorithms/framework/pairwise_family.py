"""The pairwise family's interface: offline preference optimisation from per-sequence log-probs."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from prefzoo.algorithms.framework.interface import Algorithm, Family, LossOutput


@dataclass(frozen=True)
class PairLogps:
    """Log-probabilities of a batch of preference pairs (x, y_w ≻ y_l), summed over each response.

    Every tensor has the same shape: ``(batch,)`` in the LM engine, any leading shape elsewhere (the
    bandit suite uses ``(configs, datasets, seeds, pairs)``). ``ref_*`` are log π_ref; reference-free
    algorithms receive ``None``. ``*_tokens`` are response lengths |y| as floats.

    ``kl_logratio`` (for a loss that declares ``uses_kl_estimate``) holds log π(y'|x) − log π_ref(y'|x)
    of the batch's responses each scored after another row's prompt (TRL's rotation by one row), without
    gradient, shape ``(..., m)`` for any m: the batch's estimate of KL(π ‖ π_ref) is its mean over the
    last axis (KTO's reference point z₀).

    ``chosen_safe`` / ``rejected_safe`` (for a loss that declares ``uses_safety_labels``) are 1.0 where
    the response is safe and 0.0 where it is not (BFPO's I_safe), shaped like the log-probs; on
    two-factor data the pair is then ordered by the other factor (helpfulness) alone.
    """

    policy_chosen: Tensor
    policy_rejected: Tensor
    ref_chosen: Tensor | None = None
    ref_rejected: Tensor | None = None
    chosen_tokens: Tensor | None = None
    rejected_tokens: Tensor | None = None
    kl_logratio: Tensor | None = None
    chosen_safe: Tensor | None = None
    rejected_safe: Tensor | None = None

    @property
    def chosen_logratio(self) -> Tensor:
        """log π(y_w|x) − log π_ref(y_w|x)."""
        return self.policy_chosen - self.ref_chosen

    @property
    def rejected_logratio(self) -> Tensor:
        """log π(y_l|x) − log π_ref(y_l|x)."""
        return self.policy_rejected - self.ref_rejected

    @property
    def logratio_margin(self) -> Tensor:
        """h = log[π(y_w) π_ref(y_l) / (π(y_l) π_ref(y_w))], the argument of Ψ-PO losses (Azar et al. Eq. 6)."""
        return self.chosen_logratio - self.rejected_logratio


class Pairwise(Algorithm):
    """Offline pairwise preference optimisation: a member supplies ``loss(PairLogps) -> LossOutput``.

    The loop (the LM engine, or the bandit suite for a tabular policy) batches pairs, computes the
    policy log-probs and the cached reference log-probs, calls the loss, and steps the optimiser.
    ``uses_reference = False`` marks a reference-free loss, for which no reference forward is run;
    ``uses_lengths = True`` asks for response lengths; ``uses_kl_estimate = True`` asks for the
    mismatched-response log-ratios of ``PairLogps.kl_logratio`` (two more forward passes without gradient,
    policy and reference, per micro-batch); ``uses_safety_labels = True`` asks for each response's binary
    safety label (``PairLogps.chosen_safe``), which only two-factor data carry.
    """

    family = Family.PAIRWISE
    has_implicit_reward = True
    uses_reference: ClassVar[bool] = True
    uses_lengths: ClassVar[bool] = False
    uses_kl_estimate: ClassVar[bool] = False
    uses_safety_labels: ClassVar[bool] = False

    @abstractmethod
    def loss(self, batch: PairLogps) -> LossOutput:
        """The per-pair loss; pure, differentiable in ``batch.policy_*``."""

    def implicit_reward(self, logp: Tensor, ref_logp: Tensor | None, tokens: Tensor | None) -> Tensor:
        """The reward the trained policy implies for one response, up to a positive scale and a
        per-prompt constant — enough to rank two responses (held-out pair accuracy)."""
        return logp - ref_logp

    def bandit_fixed_point(self, n_arms: int, pairs: tuple[tuple[int, int], ...],
                           safe: tuple[bool, ...] | None = None) -> Tensor | None:
        """π over ``n_arms`` arms at the minimiser of the loss's population objective on a tabular
        softmax policy with a uniform π_ref, pairs (chosen, rejected) sampled uniformly, ``safe`` each
        arm's safety label (None: every arm safe); None where the paper gives no closed form. The bandit
        suite tables and plots it beside the measured policy."""
        return None

    def __call__(self, batch: PairLogps) -> LossOutput:
        if self.uses_reference and (batch.ref_chosen is None or batch.ref_rejected is None):
            raise ValueError(f"{self.name or type(self).__name__} needs reference log-probs (ref_chosen, ref_rejected)")
        if self.uses_lengths and (batch.chosen_tokens is None or batch.rejected_tokens is None):
            raise ValueError(f"{self.name or type(self).__name__} needs response lengths (chosen_tokens, rejected_tokens)")
        if self.uses_kl_estimate and batch.kl_logratio is None:
            raise ValueError(f"{self.name or type(self).__name__} needs mismatched-response log-ratios (kl_logratio)")
        if self.uses_safety_labels and (batch.chosen_safe is None or batch.rejected_safe is None):
            raise ValueError(f"{self.name or type(self).__name__} needs each response's safety label (chosen_safe, "
                             "rejected_safe): train it on two-factor data")
        out = self.loss(batch)
        if out.losses.shape != batch.policy_chosen.shape:
            raise ValueError(f"{self.name or type(self).__name__}.loss returned shape {tuple(out.losses.shape)}; "
                             f"expected one loss per pair, {tuple(batch.policy_chosen.shape)}")
        return out
