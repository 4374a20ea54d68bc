from dataclasses import dataclass

import torch
from torch import Tensor

from prefzoo import AlgorithmConfig, param, register
from prefzoo.algorithms.bt import BradleyTerry


@register("ser")
class SelfEvolvedReward(BradleyTerry):
    """Self-Evolved Reward learning (Huang et al. 2024, arXiv:2411.00418, §3 and Figure 2).

    A Bradley–Terry reward model (the loss of :class:`BradleyTerry`, Ouyang et al. 2022 Eq. 1) is
    trained on a small labelled seed set; then, round after round, it (1) labels the unlabelled pairs
    itself, scoring each response with p = σ(r(x, y)); (2) identifies its learning status and keeps the
    pairs it is confident about; (3) is retrained on the labelled pairs plus the kept ones, while
    held-out accuracy does not fall.

    Selection (:meth:`select`; thresholds those of the authors' filters, ``rm_loop_filter.py`` and
    ``rm_loop_filter_by_self.py`` of microsoft/DKI_LLM): in status 1 (telling good from bad) a pair is
    kept when one response has p > ``high`` and the other p < ``low``; in status 2 (finer distinctions)
    also when p_a − p_b > ``gap``. The response with the higher p is labelled preferred.

    Status and stopping (:meth:`round_selection`, :meth:`improved`), the paper's "iterate until the RM
    converges" made exact: status 1 lasts while it selects something new — a round whose selection and
    labels equal the last round's would retrain the same model — then status 2 does; when status 2 has
    nothing new either, the loop has converged. Each round also needs held-out accuracy on the
    validation share of the labelled pairs (``validation_fraction``, taken from the labelled budget, not
    added to it) at least the best so far; the first round below it stops the loop and the best round's
    model is the result. At most ``rounds`` self-labelling rounds. Each round retrains from the same
    initialisation, so a round's model depends only on its training set.

    Tensors: ``p_first``, ``p_second`` and the masks share one shape, ``(pairs,)`` in the LM loop,
    ``(seeds, pairs)`` in the bandit.
    """

    paper = "Huang et al. 2024, arXiv:2411.00418"
    uses_unlabelled = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = None
        alpha: float = param(1e-3, gt=0)
        """α, the reward model's step size (the loop's learning rate)."""
        high: float = param(0.55, gt=0.5, lt=1)
        """τ_high: in status 1, the preferred response's σ(r) must exceed it."""
        low: float = param(0.45, gt=0, lt=0.5)
        """τ_low: in status 1, the other response's σ(r) must be below it."""
        gap: float = param(0.3, gt=0, lt=1)
        """τ_Δ: in status 2, a pair is also kept when σ(r_a) − σ(r_b) exceeds it."""
        rounds: int = param(3, ge=1, le=20)
        """The most self-labelling rounds after the seed model."""
        validation_fraction: float = param(0.2, gt=0, lt=1)
        """The share of the labelled pairs held out to decide whether a round improved."""

    def select(self, p_first: Tensor, p_second: Tensor, status: int | Tensor) -> tuple[Tensor, Tensor]:
        """(keep, first_preferred): which unlabelled pairs a round trains on, and the label it gives
        them. ``status`` is 1 or 2, a number or a tensor broadcastable against the scores."""
        c = self.config
        first = (p_first > c.high) & (p_second < c.low)
        second = (p_second > c.high) & (p_first < c.low)
        fine = torch.as_tensor(status, device=p_first.device) == 2
        first = first | (fine & (p_first - p_second > c.gap))
        second = second | (fine & (p_second - p_first > c.gap))
        return first | second, first

    def validation_size(self, labelled: int) -> int:
        """How many of ``labelled`` pairs are held out for the stopping rule (at least one, and at least
        one left to train on)."""
        return min(labelled - 1, max(1, round(self.config.validation_fraction * labelled)))

    def round_selection(self, p_first: Tensor, p_second: Tensor, status: Tensor, last_keep: Tensor,
                        last_first: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One round's (keep, first_preferred, status, new). ``status`` has the scores' leading shape
        plus a trailing 1 (``(1,)`` in the LM loop, ``(seeds, 1)`` in the bandit); where status 1
        would repeat the last round's selection it becomes 2; ``new`` (the scores' leading shape, a
        0-d tensor in the LM loop) is False where even that repeats it: the loop has converged."""
        keep, first = self.select(p_first, p_second, status)
        stale = self.same_selection(keep, first, last_keep, last_first)[..., None] & (status == 1)
        status = torch.where(stale, 2, status)
        keep, first = self.select(p_first, p_second, status)
        return keep, first, status, ~self.same_selection(keep, first, last_keep, last_first)

    @staticmethod
    def same_selection(keep: Tensor, first: Tensor, last_keep: Tensor, last_first: Tensor) -> Tensor:
        """True where (over the last axis) a selection and its labels equal the last round's."""
        return ((keep == last_keep) & (~keep | (first == last_first))).all(-1)

    @staticmethod
    def improved(accuracy: Tensor, best: Tensor) -> Tensor:
        """Whether a round's held-out accuracy lets the loop go on (not below the best so far)."""
        return accuracy >= best
