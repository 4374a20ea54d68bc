"""The online-preference family's loop for language models (Xie et al. 2024, Algorithm 1).

Each round: take the next ``prompts_per_round`` prompts (shuffled epochs, seeded); generate one
response per prompt from each of the algorithm's two samplers — the current adapter, or the base
with the adapter disabled for π_ref — label the pairs with the oracle; compute their reference
log-probs; add them to the dataset D; take ``updates_per_round`` optimiser steps on ``loss`` over
minibatches drawn from D (every pair so far, the round's fresh pairs for an on-policy algorithm, or
the newest ``replay_capacity`` pairs). The step machinery is the pairwise loop's (``StepLoop``).
Generated tokens, sampled responses and oracle queries are counted.

Data-parallel under ``accelerate launch``: the round's generation is split across the processes by
batch and gathered, so every process holds the round's pairs; the oracle labels them once, on the main
process; each process computes the pairs' reference log-probs (a round's few pairs: cheaper than
sending them) and trains on its share of every step's pairs, DistributedDataParallel averaging the
gradients — the same global batch as one process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from prefzoo.algorithms.engine.data import collate_pairs, prompt_token_ids
from prefzoo.algorithms.engine.generation import sample_everywhere, split_batch_size
from prefzoo.algorithms.engine.memory import PeakMemory
from prefzoo.algorithms.engine.oracles import PreferenceOracle
from prefzoo.algorithms.engine.pairwise import (StepLoop, TrainResult, TrainSettings, make_accelerator, make_optimizer,
                                                pair_logps)
from prefzoo.algorithms.engine.processes import from_main, process_share
from prefzoo.algorithms.engine.reference import compute_reference_logps
from prefzoo.algorithms.framework.base import OnlinePreference, PairOrigins


@dataclass(frozen=True)
class OnlineSettings:
    """How an online run spends the shared step budget (``TrainSettings.steps`` optimiser steps)."""

    prompts_per_round: int = 8
    """Prompts per round; each yields one labelled pair (one oracle query)."""
    updates_per_round: int = 1
    """Optimiser steps per round; rounds = ⌈steps / updates_per_round⌉."""
    replay_capacity: int = 0
    """0: the algorithm's own choice (all data so far, or the round's fresh pairs); n: the newest n pairs."""
    max_new_tokens: int = 24
    temperature: float = 1.0
    generation_batch_size: int = 64

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class OnlineResult(TrainResult):
    generated_tokens: int = 0
    responses_sampled: int = 0
    oracle_queries: int = 0
    dataset_sizes: list[int] | None = None
    """Pairs in D after each round."""
    trained_sizes: list[int] | None = None
    """Pairs the round's updates drew from."""


def _prompt_order(n: int, total: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    while len(order) < total:
        order += torch.randperm(n, generator=generator).tolist()
    return order[:total]


def train_online(algorithm: OnlinePreference, model, tokenizer, prompts: Sequence[Any], oracle: PreferenceOracle,
                 settings: TrainSettings, online: OnlineSettings = OnlineSettings(), accelerator=None,
                 run_name: str = "run", progress: Callable[[int, int], None] | None = None) -> OnlineResult:
    """Train ``model``'s adapter online with ``algorithm`` for ``settings.steps`` optimiser steps."""
    accelerator = accelerator or make_accelerator(settings)
    torch.manual_seed(settings.seed)
    rounds = math.ceil(settings.steps / online.updates_per_round)
    order = _prompt_order(len(prompts), rounds * online.prompts_per_round, settings.seed)
    params, optimizer, scheduler = make_optimizer(model, settings)
    policy = model  # sampling and π_ref's log-probs use the peft model, not a distributed wrapper of it
    model, optimizer = accelerator.prepare(model, optimizer)  # the scheduler: StepLoop steps it
    steps = StepLoop(accelerator, model, params, optimizer, scheduler, settings, algorithm.name, run_name, progress)
    pad_id = tokenizer.pad_token_id
    generator = torch.Generator().manual_seed(settings.seed)
    data: list[dict] = []
    sizes, trained, generated, sampled = [], [], 0, 0
    with PeakMemory(accelerator.device) as memory:
        start = time.perf_counter()
        for t in range(rounds):
            batch_prompts = [prompts[i] for i in order[t * online.prompts_per_round:(t + 1) * online.prompts_per_round]]
            first, second = _generate_pairs(algorithm, policy, tokenizer, batch_prompts, online, seed=(settings.seed, t))
            generated += sum(len(s.completion_ids) for s in first + second)
            sampled += len(first) + len(second)
            first_wins = from_main(lambda: oracle(batch_prompts, [s.text for s in first], [s.text for s in second]))
            new = _labelled_rows(algorithm, tokenizer, batch_prompts, first, second, first_wins)
            refs = compute_reference_logps(policy, new, pad_id)
            for row, (ref_c, ref_r) in zip(new, refs.tolist()):
                row["ref_chosen"], row["ref_rejected"] = ref_c, ref_r
            data += new
            pool = data[-online.replay_capacity:] if online.replay_capacity else data if algorithm.keeps_all_data else new
            sizes.append(len(data))
            trained.append(len(pool))
            progress_t = t / max(rounds - 1, 1)
            for _ in range(online.updates_per_round):
                if steps.step >= settings.steps:
                    break
                # without replacement when the pool allows it, so a batch never repeats a pair
                picks = (torch.randperm(len(pool), generator=generator)[:settings.batch_size]
                         if len(pool) >= settings.batch_size else
                         torch.randint(len(pool), (settings.batch_size,), generator=generator)).tolist()
                mine = process_share(picks)
                for mb in range(0, len(mine), settings.micro_batch_size):
                    rows = [pool[i] for i in mine[mb:mb + settings.micro_batch_size]]
                    batch = {k: v.to(accelerator.device) for k, v in collate_pairs(rows, pad_id).items()}
                    origins = PairOrigins(*(torch.tensor([r[k] for r in rows], device=accelerator.device)
                                            for k in ("chosen_from_reference", "rejected_from_reference")))
                    steps.micro_batch(lambda: algorithm.loss(pair_logps(model, batch), origins, progress_t), batch)
        wall = time.perf_counter() - start
    steps.close()
    return OnlineResult(steps.history, wall, steps.tokens, memory.peak, generated_tokens=generated,
                        responses_sampled=sampled, oracle_queries=from_main(lambda: oracle.queries),
                        dataset_sizes=sizes, trained_sizes=trained)


def _generate_pairs(algorithm: OnlinePreference, model, tokenizer, prompts, online: OnlineSettings, seed):
    """One response per prompt from each sampler; an unchanged pair of samplers is one generate call."""
    def draw(sampler: str, n: int, salt: int):
        return sample_everywhere(model, tokenizer, prompts, n, online.max_new_tokens,
                                 split_batch_size(online.generation_batch_size, n * len(prompts)),
                                 seed=hash((*seed, salt)) & 0x7FFF_FFFF, reference=sampler == "reference",
                                 temperature=online.temperature)

    a, b = algorithm.samplers
    if a == b:
        both = draw(a, 2, 0)
        return both[0::2], both[1::2]
    return draw(a, 1, 0), draw(b, 1, 1)


def _labelled_rows(algorithm: OnlinePreference, tokenizer, prompts, first, second, first_wins) -> list[dict]:
    """Pairs ordered (chosen, rejected) by the oracle, on the exact generated token ids."""
    from_ref = [s == "reference" for s in algorithm.samplers]
    rows = []
    for prompt, a, b, wins in zip(prompts, first, second, first_wins.tolist()):
        (c, c_ref), (r, r_ref) = ((a, from_ref[0]), (b, from_ref[1])) if wins else ((b, from_ref[1]), (a, from_ref[0]))
        rows.append({"prompt_ids": prompt_token_ids(tokenizer, prompt), "chosen_ids": c.completion_ids or
                     [tokenizer.eos_token_id], "rejected_ids": r.completion_ids or [tokenizer.eos_token_id],
                     "chosen_from_reference": c_ref, "rejected_from_reference": r_ref})
    return rows
