"""Gradient checkpointing chosen from a memory budget, and the budget itself.

Checkpointing trades about a third more compute for most of the activation memory. Whether it is the
better trade depends on the model, the micro-batch and the card, so ``gradient_checkpointing="auto"``
measures instead of guessing: one forward and backward of the run's largest micro-batch without it;
if the peak plus the optimiser's state would pass the budget (or the probe runs out of memory),
checkpointing goes on for the run. A budget (``--max-memory``) is also a hard cap: the CUDA allocator
refuses to hand out more (``torch.cuda.set_per_process_memory_fraction``), so a run that fits under it
on one card fits on a card of that size.
"""

from __future__ import annotations

import re

import torch

from prefzoo.algorithms.engine.logprobs import sequence_logps
from prefzoo.algorithms.engine.models import set_gradient_checkpointing

_UNITS = {"": 1, "b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def parse_bytes(text: str) -> int:
    """``24GiB``, ``1.5 GB``, ``512MiB`` or a plain number of bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"memory size {text!r}: expected a number with an optional unit (KiB, MiB, GiB, GB, ...)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def cap_device_memory(device: torch.device, max_memory: int | None) -> int | None:
    """Cap what the CUDA allocator hands out on ``device`` at ``max_memory`` bytes; the budget in force
    (the card's total memory when no cap is given; None on a CPU, where nothing is capped)."""
    if device.type != "cuda":
        return None
    total = torch.cuda.get_device_properties(device).total_memory
    if max_memory is None:
        return total
    if max_memory > total:
        raise ValueError(f"--max-memory {max_memory / 2**30:.1f} GiB is more than the device's "
                         f"{total / 2**30:.1f} GiB")
    torch.cuda.set_per_process_memory_fraction(max_memory / total, device)
    return max_memory


def choose_gradient_checkpointing(model, probe: dict[str, torch.Tensor], budget: int | None) -> bool:
    """Turn gradient checkpointing on iff the collated micro-batch ``probe`` (the run's largest, see
    ``longest_rows``) would not train within ``budget`` bytes without it; returns the choice. Off on a
    CPU (``budget`` None), where nothing is measured. The probe's gradients are discarded."""
    set_gradient_checkpointing(model, False)
    if budget is None:
        return False
    model.train()
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in probe.items()}
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimiser_state = 2 * 4 * trainable  # AdamW's two float32 moments, allocated on the first step
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    try:
        logps, _ = sequence_logps(model, batch)
        logps.sum().backward()
        del logps
        peak = torch.cuda.max_memory_allocated(device)
    except torch.OutOfMemoryError:
        peak = None
    finally:
        model.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
    on = peak is None or peak + optimiser_state > budget
    set_gradient_checkpointing(model, on)
    return on


def longest_rows(rows, n: int) -> list[dict]:
    """The ``n`` rows (tokenised pairs or unpaired rows) with the longest sequences: collated, a
    micro-batch at least as large as any the run will see."""
    rows = list(rows)
    completions = ("chosen_ids", "rejected_ids") if "chosen_ids" in rows[0] else ("completion_ids",)
    size = [len(r["prompt_ids"]) + max(len(r[c]) for c in completions) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: -size[i])
    return [rows[i] for i in order[:n]]
