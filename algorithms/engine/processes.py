"""Data-parallel cells under ``accelerate launch``: which process this is, and what only one of them does.

Every family's cell trains data-parallel through accelerate: the same global batch on N processes,
gradients averaged across them (``pairwise.make_accelerator``; a reward model's by ``StepLoop``; the RL
loop's by :func:`average_gradients`). The online and RL loops split each round's sampling across the
processes by generation batch and gather it (``generation.sample_everywhere``), label on the main
process (:func:`from_main`), and give each process its share of every optimiser step's rows. Around
training, the LM suites make every other step rank-aware: data and reference log-probs are computed by
the main process first and read from the cache by the others; evaluation samples are split and gathered
the same way; only the main process scores the gathered samples, saves adapters and writes result files
(a reward model too).

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


def process_share(rows: list, index: int | None = None, n: int | None = None) -> list:
    """This process's consecutive share of an optimiser step's ``rows`` (all of them in one process)."""
    state = process_state()
    index = state.process_index if index is None else index
    n = state.num_processes if n is None else n
    if len(rows) % n:
        raise ValueError(f"{len(rows)} rows a step cannot be split evenly over {n} processes")
    per = len(rows) // n
    return rows[index * per:(index + 1) * per]


def from_main(compute):
    """``compute()`` on the main process alone, its (picklable) result sent to every process: for what
    must happen once, such as asking a labeller (a judge or a person is asked once, and a seeded
    labeller's draws are those of one process)."""
    if processes() == 1:
        return compute()
    from accelerate.utils import broadcast_object_list

    box = [compute() if is_main() else None]
    broadcast_object_list(box)
    return box[0]


def average_gradients(params) -> None:
    """Average ``params``' gradients across the processes (each backpropagated its share of the batch):
    for models no DistributedDataParallel wraps."""
    if processes() == 1:
        return
    for p in params:
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad.div_(processes())


def mean_across(values: dict[str, float]) -> dict[str, float]:
    """Each value averaged over the processes (a history entry of the whole data-parallel batch)."""
    if processes() == 1 or not values:
        return values
    keys = sorted(values)
    total = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=run_device())
    torch.distributed.all_reduce(total)
    return {k: v / processes() for k, v in zip(keys, total.tolist())}


def data_parallel_refusal(tune: bool, backend: str) -> str | None:
    """Why a run on several processes cannot take this option, or None."""
    if processes() == 1:
        return None
    if tune:
        return "--tune selects on one process: run it without accelerate launch"
    if backend != "serial":
        return "--backend ray schedules cells itself: run it without accelerate launch"
    return None
