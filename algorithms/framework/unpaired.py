"""Single responses with a binary label — TRL's unpaired format (prompt, completion, label) — for the
pairwise algorithms that can learn from them.

A pairwise algorithm accepts unpaired data by defining ``unpaired_loss(UnpairedLogps) -> LossOutput``
(KTO); the pairwise loop then trains it on either format. Algorithms without it need pairs, and the
data layer refuses unpaired data for them by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class UnpairedLogps:
    """Log-probs of a batch of labelled single responses, each summed over the response; ``(batch,)``
    in the LM engine, any leading shape elsewhere.

    ``desirable`` is a bool tensor (TRL's ``label``); ``kl_logratio`` as in ``PairLogps``: the batch's
    responses each scored after another row's prompt, log π − log π_ref, without gradient, shape
    ``(..., m)``.
    """

    policy: Tensor
    ref: Tensor
    desirable: Tensor
    kl_logratio: Tensor | None = None
    tokens: Tensor | None = None

    @property
    def logratio(self) -> Tensor:
        """log π(y|x) − log π_ref(y|x)."""
        return self.policy - self.ref


def accepts_unpaired(algorithm) -> bool:
    """Whether an algorithm (class or instance) trains on unpaired rows."""
    return callable(getattr(algorithm, "unpaired_loss", None))
