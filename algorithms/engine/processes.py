"""Data-parallel cells under ``accelerate launch``: which process this is, and what only one of them does.

A pairwise or reward-learning cell trains data-parallel through accelerate (``pairwise.make_accelerator``:
the same global batch on N processes, gradients averaged across them; a reward model's by ``StepLoop``). Around training, the LM suites make every
other step rank-aware: data and reference log-probs are computed by the main process first and read
from the cache by the others; evaluation samples are split across the processes by batch and gathered
(``generation.sample_everywhere``); only the main process scores the gathered samples, saves adapters
and writes result files (a reward model too). The online and RL loops are single-process: their rollouts
are not sharded.

In one plain process every function here is the single-process answer, so callers need no branch.
"""

from __future__ import annotations

import torch


def process_state():
    """accelerate's state of this process (one shared object), honouring ``ACCELERATE_USE_CPU``."""
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    # AcceleratorState reads ACCELERATE_USE_CPU, PartialState does not: without it, processes started by
    # torchrun on a machine without accelerators would each run alone
    return PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))


def processes() -> int:
    """How many processes run this cell (``accelerate launch --num_processes``; 1 otherwise)."""
    return process_state().num_processes


def is_main() -> bool:
    """Whether this process saves and writes (the only one, outside ``accelerate launch``)."""
    return process_state().is_main_process


def main_first():
    """A block the main process runs first (e.g. filling a cache) and the others after it."""
    return process_state().main_process_first()


def wait_for_everyone() -> None:
    process_state().wait_for_everyone()


def run_device() -> torch.device:
    """This process's device: its own GPU (or the CPU) under ``accelerate launch``, else CUDA if present."""
    if processes() > 1:
        return process_state().device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def data_parallel_refusal(family: str, tune: bool, backend: str) -> str | None:
    """Why a run on several processes cannot take this algorithm or option, or None."""
    if processes() == 1:
        return None
    if family not in ("pairwise", "reward-learning"):
        return (f"data-parallel cells train the pairwise and reward-learning families; the {family} loop is "
                "single-process: run it without accelerate launch (or on Ray, one cell a GPU)")
    if tune:
        return "--tune selects on one process: run it without accelerate launch"
    if backend != "serial":
        return "--backend ray schedules cells itself: run it without accelerate launch"
    return None
