"""The pairwise family's loop for language models, on accelerate.

accelerate owns devices, mixed precision, gradient accumulation and multi-GPU (``accelerate launch``);
peft owns the adapter; the algorithm owns only ``loss``. The loop is the same for every pairwise
algorithm: batch pairs, compute the policy's sequence log-probs, read the cached reference log-probs,
call the loss, step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from prefzoo.algorithms.base import PairLogps, Pairwise
from prefzoo.algorithms.engine.data import collate_pairs, sequence_logps
from prefzoo.algorithms.engine.memory import PeakMemory


@dataclass(frozen=True)
class TrainSettings:
    """The budget and optimiser every algorithm of a benchmark shares."""

    steps: int = 40
    """Optimiser steps."""
    batch_size: int = 8
    """Preference pairs per optimiser step."""
    micro_batch_size: int = 8
    """Pairs per forward pass; batch_size / micro_batch_size micro-batches are accumulated."""
    learning_rate: float = 5e-4
    """AdamW learning rate of the LoRA parameters (linear warm-up, then constant)."""
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    """accelerate's mixed precision: no, bf16 or fp16."""
    seed: int = 0

    def __post_init__(self):
        if self.batch_size % self.micro_batch_size:
            raise ValueError(f"TrainSettings.batch_size={self.batch_size} is not a multiple of "
                             f"micro_batch_size={self.micro_batch_size}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """What one training run measured."""

    history: list[dict[str, float]]
    wall_time_s: float
    train_tokens: int
    peak_memory_bytes: int


def visit_order(n_rows: int, settings: TrainSettings, num_processes: int = 1) -> list[int]:
    """The rows a run reads, in order: shuffled epochs (seeded by ``settings.seed``) until every process
    has ``steps × batch_size`` pairs. Known before training, so reference log-probs are computed for
    these rows only, and two algorithms with the same seed read the same pairs."""
    if n_rows < settings.micro_batch_size:
        raise ValueError(f"{n_rows} pairs are fewer than one micro-batch ({settings.micro_batch_size})")
    need = settings.steps * settings.batch_size * num_processes
    per_epoch = n_rows - n_rows % settings.micro_batch_size  # whole micro-batches; the rest is dropped
    generator = torch.Generator().manual_seed(settings.seed)
    order: list[int] = []
    while len(order) < need:
        order += torch.randperm(n_rows, generator=generator)[:per_epoch].tolist()
    return order[:need]


def make_accelerator(settings: TrainSettings, logging_dir: Path | None = None):
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    trackers = []
    if logging_dir is not None:
        try:
            import tensorboard  # noqa: F401
            trackers = ["tensorboard"]
        except ImportError:
            pass
    return Accelerator(
        gradient_accumulation_steps=settings.batch_size // settings.micro_batch_size,
        mixed_precision=settings.mixed_precision, log_with=trackers or None,
        project_config=ProjectConfiguration(project_dir=str(logging_dir)) if logging_dir else None)


def train_pairwise(algorithm: Pairwise, model, dataset, pad_id: int, settings: TrainSettings, accelerator=None,
                   run_name: str = "run", progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train ``model``'s adapter with ``algorithm.loss`` for ``settings.steps`` optimiser steps.

    ``dataset`` holds prompt_ids/chosen_ids/rejected_ids and, for reference-based algorithms, the
    cached ref_chosen/ref_rejected columns.
    """
    if algorithm.uses_reference and "ref_chosen" not in dataset.column_names:
        raise ValueError(f"{algorithm.name} needs the dataset's reference log-probs (ref_chosen, ref_rejected)")
    accelerator = accelerator or make_accelerator(settings)
    torch.manual_seed(settings.seed)
    rows = dataset.select(visit_order(len(dataset), settings, accelerator.num_processes))
    if algorithm.uses_reference:
        missing = [i for i, (c, r) in enumerate(zip(rows["ref_chosen"], rows["ref_rejected"]))
                   if not (math.isfinite(c) and math.isfinite(r))]
        if missing:
            raise ValueError(f"{algorithm.name}: the reference log-probs of {len(missing)} of the rows this run "
                             "reads were not computed (compute them for visit_order's rows)")
    loader = torch.utils.data.DataLoader(list(rows), batch_size=settings.micro_batch_size, shuffle=False,
                                         collate_fn=lambda batch: collate_pairs(batch, pad_id))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    warmup = max(settings.warmup_steps, 0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (warmup + 1)) if warmup else 1.0)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    if accelerator.log_with:  # trackers exist only after init_trackers
        accelerator.init_trackers(run_name)
    model.train()
    history, tokens, step = [], 0, 0
    accumulated: dict[str, list[float]] = {}
    with PeakMemory(accelerator.device) as memory:
        start = time.perf_counter()
        while step < settings.steps:  # the loader holds exactly the budget; the loop guards a short shard
            for batch in loader:
                with accelerator.accumulate(model):
                    logps, lengths = sequence_logps(model, batch)
                    chosen, rejected = logps.chunk(2)
                    len_c, len_r = lengths.chunk(2)
                    pair = PairLogps(chosen, rejected, batch.get("ref_chosen"), batch.get("ref_rejected"), len_c, len_r)
                    out = algorithm(pair)
                    accelerator.backward(out.loss)
                    if accelerator.sync_gradients and settings.max_grad_norm:
                        accelerator.clip_grad_norm_(params, settings.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                tokens += int(batch["attention_mask"].sum())
                accumulated.setdefault("loss", []).append(out.loss.item())
                for key, value in out.metrics.items():
                    accumulated.setdefault(key, []).append(value.detach().float().mean().item())
                if accelerator.sync_gradients:
                    step += 1
                    entry = {"step": step, **{k: sum(v) / len(v) for k, v in accumulated.items()}}
                    if not all(math.isfinite(v) for v in entry.values()):
                        raise FloatingPointError(f"{algorithm.name}: non-finite training value at step {step}: {entry}")
                    history.append(entry)
                    accelerator.log({k: v for k, v in entry.items() if k != "step"}, step=step)
                    accumulated = {}
                    if progress is not None:
                        progress(step, settings.steps)
                    if step >= settings.steps:
                        break
        wall = time.perf_counter() - start
    if accelerator.trackers:
        accelerator.end_training()
    return TrainResult(history, wall, tokens, memory.peak)
