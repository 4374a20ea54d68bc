"""How ``--tune`` picks a config from its trials: the defaults stay unless a trial beats them by more than
the validation noise.

Picking the highest validation score outright rewards noise: of eight trials whose true scores are
equal, one always comes out on top, and the "tuned" config then differs from the defaults by chance
(a β picked on a difference a tenth of its standard error). So the best trial replaces the defaults
(trial 1) only where its paired gain over them — on the same validation prompts or seeds — exceeds
``Z`` standard errors of that gain; otherwise the defaults are kept, and the record says which happened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

Z = 1.959964
"""The gain must exceed Z standard errors of the paired difference (a two-sided 95% interval above 0)."""
RULE = f"the defaults unless the best trial's paired gain over them exceeds {Z:.2f} standard errors"
"""The rule's name in a tuning record (part of a tuned cell's hash: a rule change is a new setting)."""


@dataclass(frozen=True)
class Selection:
    """``selected``: the trial that runs; ``best``: the highest mean; ``gain`` (best − defaults, paired) and
    ``noise`` (Z standard errors of that gain); ``kept_defaults`` where the gain did not exceed the noise."""

    selected: int
    best: int
    gain: float
    noise: float

    @property
    def kept_defaults(self) -> bool:
        return self.selected == 0 and self.best != 0

    def describe(self) -> str:
        if self.best == 0:
            return "the defaults scored best"
        verb = "kept the defaults" if self.kept_defaults else f"chose trial {self.best + 1}"
        relation = "≤" if self.kept_defaults else ">"
        return f"{verb}: gain {self.gain:+.4f} {relation} noise {self.noise:.4f}"


def select_trial(scores: Sequence[torch.Tensor]) -> Selection:
    """``scores[i]``: trial i's score on each validation unit (prompt or seed; the same units for every
    trial, trial 0 the defaults), shape (U,). Ties in the mean go to the earlier trial."""
    means = [float(s.double().mean()) for s in scores]
    best = max(range(len(scores)), key=lambda i: (means[i], -i))
    difference = scores[best].double() - scores[0].double()
    n = difference.numel()
    noise = Z * float(difference.std()) / math.sqrt(n) if n > 1 else math.inf
    gain = means[best] - means[0]
    return Selection(best if gain > noise else 0, best, gain, noise)
