"""Sampling responses from the policy (adapter on) or the reference (adapter off) with transformers' generate."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from prefzoo.algorithms.engine.data import prompt_token_ids
from prefzoo.algorithms.engine.merged import copy_fits, has_4bit_layers, merged_copy
from prefzoo.algorithms.engine.models import eval_mode


@dataclass(frozen=True)
class Sample:
    prompt_index: int
    text: str
    completion_ids: list[int]
    logp: float | None = None
    """Σ_t log π(y_t | x, y_<t) under the sampling policy, when asked for (``with_logps``)."""


@torch.no_grad()
def sample_responses(model, tokenizer, prompts: Sequence[str | list[dict]], n_per_prompt: int, max_new_tokens: int,
                     batch_size: int, seed: int, reference: bool = False, temperature: float = 1.0,
                     progress: Callable[[int, int], None] | None = None, with_logps: bool = False,
                     top_p: float = 1.0, top_k: int = 0, merged: bool | None = None,
                     shard: tuple[int, int] | None = None) -> list[Sample]:
    """``n_per_prompt`` samples for every prompt (a conversation or plain text, tokenised as training
    tokenises it), at ``temperature`` with nucleus (``top_p``) and ``top_k`` truncation (1.0 and 0: none).

    ``reference=True`` samples π_ref: the adapter is disabled for the whole call. Batch b is seeded
    with (seed, b), so a sample does not depend on what ran before it. ``with_logps`` also returns
    each sample's log-probability under the policy itself (temperature 1, no truncation: the π that
    training and KL(π‖π_ref) speak of), read from the logits the sampler computed anyway: a second forward pass over prompt and response would cost as much as
    the generation's prefill again.

    ``merged`` samples from a plain compute-dtype copy with the adapter merged (``merged.merged_copy``):
    the same weights without per-step 4-bit dequantisation. None chooses it for an nf4 model on CUDA
    when the copy takes under half the free memory; on a CPU the QLoRA model samples itself.

    ``shard`` = (r, N): only batches b with b mod N = r (see :func:`sample_everywhere`).
    """
    device = next(model.parameters()).device
    if merged is None:
        merged = device.type == "cuda" and has_4bit_layers(model) and copy_fits(model)
    if merged:
        model, reference = merged_copy(model, reference), False
    ids = [prompt_token_ids(tokenizer, p) for p in prompts]
    jobs = [(i, ids[i]) for i in range(len(prompts)) for _ in range(n_per_prompt)]
    out: list[Sample] = []
    disable = model.disable_adapter() if reference and hasattr(model, "disable_adapter") else contextlib.nullcontext()
    with eval_mode(model), disable:
        for b, start in enumerate(range(0, len(jobs), batch_size)):
            if shard is not None and b % shard[1] != shard[0]:
                continue
            chunk = jobs[start:start + batch_size]
            width = max(len(p) for _, p in chunk)
            # left padding, so every prompt ends where generation starts
            input_ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(p)) + p for _, p in chunk], device=device)
            attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for _, p in chunk], device=device)
            torch.manual_seed(hash((seed, b)) & 0x7FFF_FFFF)
            result = model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                    max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature,
                                    top_k=top_k, top_p=top_p, pad_token_id=tokenizer.pad_token_id,
                                    return_dict_in_generate=True, output_logits=with_logps)
            new_tokens = result.sequences[:, width:]
            token_logps = None
            if with_logps:  # raw logits (before the temperature): log π at temperature 1
                token_logps = torch.stack([torch.log_softmax(step.float(), -1).gather(-1, new_tokens[:, i:i + 1])[:, 0]
                                           for i, step in enumerate(result.logits)], 1).cpu()
            for row, ((index, _), new) in enumerate(zip(chunk, new_tokens.tolist())):
                new = _until_eos(new, tokenizer.eos_token_id, tokenizer.pad_token_id)
                logp = float(token_logps[row, :len(new)].sum()) if with_logps else None
                out.append(Sample(index, tokenizer.decode(new, skip_special_tokens=True).strip(), new, logp))
            if progress is not None:
                progress(min(start + batch_size, len(jobs)), len(jobs))
    return out


def sample_everywhere(model, tokenizer, prompts: Sequence[str | list[dict]], n_per_prompt: int, max_new_tokens: int,
                      batch_size: int, seed: int, **kwargs) -> list[Sample]:
    """:func:`sample_responses` split over the processes of ``accelerate launch``: process r samples
    batches r, r + N, ..., each seeded by its own index as in one process, and every process gets all
    samples back in order — the same samples one process would draw (on the same kind of device)."""
    from accelerate.utils import gather_object

    from prefzoo.algorithms.engine.processes import process_state

    state = process_state()
    args = (model, tokenizer, prompts, n_per_prompt, max_new_tokens, batch_size, seed)
    if state.num_processes == 1:
        return sample_responses(*args, **kwargs)
    n = state.num_processes
    mine = sample_responses(*args, shard=(state.process_index, n), **kwargs)
    per_process = gather_object([mine])
    jobs, out, taken = len(prompts) * n_per_prompt, [], [0] * n
    for b, start in enumerate(range(0, jobs, batch_size)):
        size = min(batch_size, jobs - start)
        out += per_process[b % n][taken[b % n]:taken[b % n] + size]
        taken[b % n] += size
    return out


def split_batch_size(batch_size: int, jobs: int) -> int:
    """A generation batch for ``jobs`` samples that gives each process of a data-parallel run a share
    (at most ⌈jobs / N⌉, and at most ``batch_size``). In one process the batching is unchanged: a single
    batch is still batch 0, seeded as before."""
    from prefzoo.algorithms.engine.processes import processes

    return max(1, min(batch_size, -(-jobs // processes())))


def _until_eos(ids: list[int], eos: int, pad: int) -> list[int]:
    """The generated tokens up to and including the first end-of-sequence token."""
    for i, t in enumerate(ids):
        if t == eos:
            return ids[:i + 1]
    while ids and ids[-1] == pad and pad != eos:
        ids = ids[:-1]
    return ids
