"""Evaluation along training: a callback at declared steps of the shared budget, invisible to training.

Every LM loop reports its progress through ``reached(step, model)`` (the step loop after each optimiser
step; the RL loop after each iteration, its unit of the budget). Inside ``evaluate_at(steps, evaluate)``
that calls ``evaluate(step)`` at each declared step. The loops take no parameter for it — a context
variable carries it — so every family gets checkpoints without a change to its signature.

Training must go on exactly as it would without the evaluation: the evaluation samples with its own
seeds, which reseed the global generators, and switches the model to eval mode. So the random states
(torch on every device, Python's ``random``) are saved before and restored after, and the model is put
back in the mode it was in; the adapter's weights are only read.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch

_HOOK: ContextVar[tuple[frozenset[int], Callable[[int], None]] | None] = ContextVar("along_training", default=None)


@contextmanager
def evaluate_at(steps: Iterable[int], evaluate: Callable[[int], None]) -> Iterator[None]:
    """Within the block, call ``evaluate(step)`` when a loop reaches each of ``steps``."""
    token = _HOOK.set((frozenset(steps), evaluate))
    try:
        yield
    finally:
        _HOOK.reset(token)


def reached(step: int, model) -> None:
    """Called by the loops after step ``step``: run the evaluation declared for it, if any, leaving the
    random states and the model's mode as they were."""
    hook = _HOOK.get()
    if hook is None or step not in hook[0]:
        return
    was_training = model.training
    python_state = random.getstate()
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        hook[1](step)
    random.setstate(python_state)
    model.train(was_training)
