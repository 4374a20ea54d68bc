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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from prefzoo.algorithms.engine import along_training, processes
from prefzoo.algorithms.engine.checkpointing import choose_gradient_checkpointing, longest_rows
from prefzoo.algorithms.engine.data import DatasetError, collate_pairs, unprefixed
from prefzoo.algorithms.engine.logprobs import sequence_logps
from prefzoo.algorithms.engine.memory import PeakMemory
from prefzoo.algorithms.engine.models import reference_mode, set_gradient_checkpointing
from prefzoo.algorithms.engine.unpaired_data import collate_unpaired, is_unpaired
from prefzoo.algorithms.framework.base import LossOutput, PairLogps, Pairwise
from prefzoo.algorithms.framework.unpaired import UnpairedLogps, accepts_unpaired


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
    """accelerate's mixed precision: no, bf16, fp16, or auto — bf16 autocast on a CUDA device that
    supports it, else no. Under autocast peft's LoRA layers take the 4-bit layers' bfloat16 inputs as they
    are; without it they keep a float32 copy of every input for backward (the adapter's weights are float32)."""
    seed: int = 0

    def __post_init__(self):
        for name, low in (("steps", 1), ("batch_size", 1), ("micro_batch_size", 1), ("warmup_steps", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"TrainSettings.{name} = {getattr(self, name)}: must be >= {low}")
        if not self.learning_rate > 0:
            raise ValueError(f"TrainSettings.learning_rate = {self.learning_rate}: must be > 0")
        if self.mixed_precision not in ("no", "bf16", "fp16", "auto"):
            raise ValueError(f"TrainSettings.mixed_precision = {self.mixed_precision!r}: expected no, bf16, fp16 or auto")
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
    gradient_checkpointing: bool | None = field(default=None, kw_only=True)
    """Whether activations were recomputed in backward, where the loop chose it (``"auto"``); keyword-only,
    so the families' result classes keep their positional fields."""


def visit_order(n_rows: int, settings: TrainSettings) -> list[int]:
    """The rows a run reads, in order: shuffled epochs (seeded by ``settings.seed``) up to ``steps ×
    batch_size`` pairs — on any number of processes, as ``batch_size`` is the global batch. Known before
    training, so reference log-probs are computed for these rows only, and two algorithms with the same
    seed read the same pairs."""
    if n_rows < settings.micro_batch_size:
        raise ValueError(f"{n_rows} pairs are fewer than one micro-batch ({settings.micro_batch_size})")
    need = settings.steps * settings.batch_size
    per_epoch = n_rows - n_rows % settings.micro_batch_size  # whole micro-batches; the rest is dropped
    generator = torch.Generator().manual_seed(settings.seed)
    order: list[int] = []
    while len(order) < need:
        order += torch.randperm(n_rows, generator=generator)[:per_epoch].tolist()
    return order[:need]


def make_optimizer(model, settings: TrainSettings):
    """AdamW on the trainable (adapter) parameters with linear warm-up; returns (params, optimiser, scheduler)."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    warmup = max(settings.warmup_steps, 0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (warmup + 1)) if warmup else 1.0)
    return params, optimizer, scheduler


def pair_logps(model, batch: dict[str, torch.Tensor]) -> PairLogps:
    """The policy's log-probs of a collated pair batch (see ``collate_pairs``), with its cached
    reference log-probs, response lengths and, when the batch carries mismatched sequences, their
    log-ratios (``kl_logratio``)."""
    logps, lengths = sequence_logps(model, batch)
    chosen, rejected = logps.chunk(2)
    len_c, len_r = lengths.chunk(2)
    return PairLogps(chosen, rejected, batch.get("ref_chosen"), batch.get("ref_rejected"), len_c, len_r,
                     mismatched_logratio(model, batch), batch.get("chosen_safe"), batch.get("rejected_safe"))


def unpaired_loss(algorithm: Pairwise, model, batch: dict[str, torch.Tensor]) -> LossOutput:
    """``algorithm.unpaired_loss`` on a collated unpaired batch (see ``collate_unpaired``), checked to
    return one loss per row."""
    logps, lengths = sequence_logps(model, batch)
    out = algorithm.unpaired_loss(UnpairedLogps(logps, batch.get("ref"), batch["label"],
                                                mismatched_logratio(model, batch), lengths))
    if out.losses.shape != logps.shape:
        raise ValueError(f"{algorithm.name}.unpaired_loss returned shape {tuple(out.losses.shape)}; expected one "
                         f"loss per row, {tuple(logps.shape)}")
    return out


def mismatched_logratio(model, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """log π(y'|x) − log π_ref(y'|x) of the batch's mismatched sequences (``collate_pairs(mismatched=True)``),
    without gradient — the policy in its current (training) mode, as TRL's KTO computes it — or None."""
    mismatched = unprefixed(batch, "mismatched_")
    if not mismatched:
        return None
    with torch.no_grad():
        policy = sequence_logps(model, mismatched)[0]
    with reference_mode(unwrap(model)):
        ref = sequence_logps(model, mismatched)[0]
    return (policy - ref).float()


def unwrap(model):
    """The peft model under a distributed wrapper (``disable_adapter`` lives there)."""
    return getattr(model, "module", model)


def resolved_mixed_precision(mixed_precision: str) -> str:
    """``auto``: bf16 where CUDA supports it, else no; any other value as it is."""
    if mixed_precision != "auto":
        return mixed_precision
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def make_accelerator(settings: TrainSettings, logging_dir: Path | None = None):
    """The run's Accelerator. ``batch_size`` is the global batch on any number of processes (``accelerate
    launch``): each of N processes accumulates batch_size / (micro_batch_size · N) micro-batches a step, so
    a data-parallel cell trains on the same pairs with the same steps as one process does."""
    from accelerate import Accelerator, PartialState
    from accelerate.utils import ProjectConfiguration

    n_processes = PartialState().num_processes
    if settings.batch_size % (settings.micro_batch_size * n_processes):
        raise ValueError(f"batch_size={settings.batch_size} is not a multiple of micro_batch_size="
                         f"{settings.micro_batch_size} × {n_processes} processes")

    trackers = []
    if logging_dir is not None:
        try:
            import tensorboard  # noqa: F401
            trackers = ["tensorboard"]
        except ImportError:
            pass
    return Accelerator(
        gradient_accumulation_steps=settings.batch_size // (settings.micro_batch_size * n_processes),
        mixed_precision=resolved_mixed_precision(settings.mixed_precision), log_with=trackers or None,
        project_config=ProjectConfiguration(project_dir=str(logging_dir)) if logging_dir else None)


class StepLoop:
    """Micro-batches into optimiser steps on accelerate (accumulation, backward, clipping), with the
    per-step history averaged over micro-batches and logged to the trackers. Shared by every LM loop.

    ``average_gradients``: average ``params``' gradients across the processes before each step, for a
    model accelerate did not wrap (a reward model scores through its own head, not the wrapped
    model's forward, so DistributedDataParallel's hooks would never fire). ``policy_steps``: whether
    these are steps of the policy, at which evaluation along training runs (``along_training``); a
    reward model's are not."""

    def __init__(self, accelerator, model, params, optimizer, scheduler, settings: TrainSettings, algorithm: str,
                 run_name: str, progress: Callable[[int, int], None] | None = None, average_gradients: bool = False,
                 policy_steps: bool = True):
        self.average_gradients = average_gradients and accelerator.num_processes > 1
        self.accelerator, self.model, self.params = accelerator, model, params
        self.optimizer, self.scheduler, self.settings = optimizer, scheduler, settings
        self.algorithm, self.progress, self.policy_steps = algorithm, progress, policy_steps
        self.history: list[dict[str, float]] = []
        self.tokens = self.step = 0
        self._accumulated: dict[str, list[float]] = {}
        if accelerator.log_with:  # trackers exist only after init_trackers
            accelerator.init_trackers(run_name)
        model.train()

    def micro_batch(self, loss_fn: Callable[[], LossOutput], batch: dict[str, torch.Tensor]) -> None:
        acc = self.accelerator
        with acc.accumulate(self.model):
            out = loss_fn()
            acc.backward(out.loss)
            if acc.sync_gradients and self.average_gradients:
                processes.average_gradients(self.params)
            if acc.sync_gradients and self.settings.max_grad_norm:
                acc.clip_grad_norm_(self.params, self.settings.max_grad_norm)
            self.optimizer.step()
            if acc.sync_gradients:  # once an optimiser step: accelerate's scheduler wrapper would step it
                self.scheduler.step()  # once per process (N× the warm-up speed on N processes)
            self.optimizer.zero_grad()
        values = {"loss": out.loss.detach(), **{k: v.detach().float().mean() for k, v in out.metrics.items()}}
        tokens = batch["attention_mask"].sum()
        if acc.num_processes > 1:  # the history and the token count are the whole data-parallel batch's
            values = {k: acc.reduce(v.float(), "mean") for k, v in values.items()}
            tokens = acc.reduce(tokens, "sum")
        self.tokens += int(tokens)
        for key, value in values.items():
            self._accumulated.setdefault(key, []).append(value.item())
        if acc.sync_gradients:
            self.step += 1
            entry = {"step": self.step, **{k: sum(v) / len(v) for k, v in self._accumulated.items()}}
            if not all(math.isfinite(v) for v in entry.values()):
                raise FloatingPointError(f"{self.algorithm}: non-finite training value at step {self.step}: {entry}")
            self.history.append(entry)
            acc.log({k: v for k, v in entry.items() if k != "step"}, step=self.step)
            self._accumulated = {}
            if self.progress is not None:
                self.progress(self.step, self.settings.steps)
            if self.policy_steps:
                along_training.reached(self.step, self.model)

    def close(self) -> None:
        if self.accelerator.trackers:
            self.accelerator.end_training()


def train_pairwise(algorithm: Pairwise, model, dataset, pad_id: int, settings: TrainSettings, accelerator=None,
                   run_name: str = "run", progress: Callable[[int, int], None] | None = None,
                   gradient_checkpointing: bool | str | None = None, memory_budget: int | None = None) -> TrainResult:
    """Train ``model``'s adapter with ``algorithm.loss`` for ``settings.steps`` optimiser steps.

    ``gradient_checkpointing="auto"`` turns checkpointing on iff the run's largest micro-batch would not
    fit ``memory_budget`` bytes without it (``checkpointing.choose_gradient_checkpointing``); True or
    False sets it; None leaves the model as it is.

    ``dataset`` holds prompt_ids/chosen_ids/rejected_ids and, for reference-based algorithms, the
    cached ref_chosen/ref_rejected columns — or unpaired rows (prompt_ids/completion_ids/label, and
    ref), on which an algorithm with ``unpaired_loss`` trains and any other is refused.
    """
    unpaired = is_unpaired(dataset)
    if unpaired and not accepts_unpaired(algorithm):
        raise DatasetError(f"{algorithm.name} needs preference pairs (prompt, chosen, rejected); these rows are "
                           "unpaired (prompt, completion, label)")
    ref_columns = ("ref",) if unpaired else ("ref_chosen", "ref_rejected")
    if algorithm.uses_reference and ref_columns[0] not in dataset.column_names:
        raise ValueError(f"{algorithm.name} needs the dataset's reference log-probs ({', '.join(ref_columns)})")
    if algorithm.uses_safety_labels and "chosen_safe" not in dataset.column_names:
        raise DatasetError(f"{algorithm.name} needs each response's safety label (fields chosen_safe and "
                           "rejected_safe, true or false): train it on two-factor data")
    accelerator = accelerator or make_accelerator(settings)
    torch.manual_seed(settings.seed)
    rows = dataset.select(visit_order(len(dataset), settings))
    if algorithm.uses_reference:
        missing = [i for i, refs in enumerate(zip(*(rows[c] for c in ref_columns)))
                   if not all(math.isfinite(r) for r in refs)]
        if missing:
            raise ValueError(f"{algorithm.name}: the reference log-probs of {len(missing)} of the rows this run "
                             "reads were not computed (compute them for visit_order's rows)")
    collate = collate_unpaired if unpaired else collate_pairs
    loader = torch.utils.data.DataLoader(list(rows), batch_size=settings.micro_batch_size, shuffle=False,
                                         collate_fn=lambda batch: collate(batch, pad_id, algorithm.uses_kl_estimate))
    loss = (lambda batch: unpaired_loss(algorithm, model, batch)) if unpaired else \
        (lambda batch: algorithm(pair_logps(model, batch)))
    params, optimizer, scheduler = make_optimizer(model, settings)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)  # the scheduler: StepLoop steps it
    if gradient_checkpointing == "auto":  # probed through the prepared model: under the run's autocast
        worst = collate(longest_rows(rows, settings.micro_batch_size), pad_id, algorithm.uses_kl_estimate)
        gradient_checkpointing = choose_gradient_checkpointing(model, worst, memory_budget)
    elif gradient_checkpointing is not None:
        set_gradient_checkpointing(model, gradient_checkpointing)
    steps = StepLoop(accelerator, model, params, optimizer, scheduler, settings, algorithm.name, run_name, progress)
    with PeakMemory(accelerator.device) as memory:
        start = time.perf_counter()
        while steps.step < settings.steps:  # the loader holds exactly the budget; the loop guards a short shard
            for batch in loader:  # to its end: only there does accelerate forget the loader, whose end-of-data
                if steps.step < settings.steps:  # flag would otherwise sync every later cell's micro-batches
                    steps.micro_batch(lambda: loss(batch), batch)
        wall = time.perf_counter() - start
    steps.close()
    return TrainResult(steps.history, wall, steps.tokens, memory.peak, gradient_checkpointing=gradient_checkpointing)
