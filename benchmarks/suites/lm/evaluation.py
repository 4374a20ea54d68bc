"""One evaluation for every algorithm of an LM suite, through the `evaluate` modules in
``metrics/``: gold reward of the policy's samples, log π/π_ref on those samples, gold win
rate against the reference's samples of the same seed, held-out pair accuracy of the implicit
reward, and KL(π‖π_ref) on separate samples of π itself (``engine.kl``). The per-sample values are kept
in the result, so the leaderboard can bootstrap over seeds and prompts and pair every row with the
reference."""

from __future__ import annotations

import time

import torch

from prefzoo.algorithms.engine.data import collate_sequences, iter_batch_logps, prompt_token_ids
from prefzoo.algorithms.engine.generation import sample_everywhere
from prefzoo.algorithms.engine.kl import sample_kl
from prefzoo.algorithms.engine.logprobs import sequence_logps
from prefzoo.algorithms.engine.models import eval_mode, reference_mode
from prefzoo.algorithms.engine.processes import is_main
from prefzoo.algorithms.framework.base import Algorithm, Pairwise
from prefzoo.benchmarks.harness.stats import bootstrap_ci
from prefzoo.benchmarks.suites.lm.metrics import load_metric

KL_SEED = 30_000
"""Sampling seeds of the KL samples (the evaluation's are 10,000 + seed, validation 20,000 + seed)."""


@torch.no_grad()
def _logps(model, tokenizer, prompts_ids, completions, batch_size: int) -> torch.Tensor:
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(completions), batch_size):
        batch = collate_sequences(prompts_ids[start:start + batch_size], completions[start:start + batch_size],
                                  tokenizer.pad_token_id)
        out.append(sequence_logps(model, {k: v.to(device) for k, v in batch.items()})[0].float().cpu())
    return torch.cat(out)


@torch.no_grad()
def held_out_margins(model, algorithm: Pairwise, dataset, pad_id: int, batch_size: int = 16) -> torch.Tensor:
    """r(y_w) − r(y_l) of the algorithm's implicit reward on every held-out pair; (n,)."""
    margins = []
    with eval_mode(model):
        for batch, logps, lengths in iter_batch_logps(model, dataset, pad_id, batch_size):
            (pc, pr), (lc, lr) = logps.chunk(2), lengths.chunk(2)
            margins.append((algorithm.implicit_reward(pc, batch["ref_chosen"], lc)
                            - algorithm.implicit_reward(pr, batch["ref_rejected"], lr)).cpu())
    return torch.cat(margins)


def evaluate_policy(run, algorithm: Algorithm | None, seed: int) -> dict:
    """Evaluate the current adapter (``algorithm`` given) or the reference policy (``algorithm=None``),
    on samples from the suite's sampler (seeded by ``seed``: a policy of seed s and the reference cell of
    seed s sample with the same generator seeds).

    Gold reward and win rate need the data source's gold reward; the log-ratio and pair accuracy do not.
    """
    p = run.profile
    model, tokenizer, source = run.model, run.tokenizer, run.source
    start = time.perf_counter()
    samples = sample_everywhere(model, tokenizer, run.eval_prompts, p.samples_per_prompt, p.data.max_new_tokens,
                                p.eval_batch_size, seed=10_000 + seed, reference=algorithm is None,
                                with_logps=algorithm is not None, **p.data.sampler())
    seconds = time.perf_counter() - start
    if not is_main():  # the main process scores the gathered samples
        return {}
    prompt_ids = [s.prompt_index for s in samples]
    generated = sum(len(s.completion_ids) for s in samples)
    texts = [s.text for s in samples]
    out = {"samples": {"prompt_ids": prompt_ids, "texts": texts},
           "generated_tokens": generated, "sampling_tokens_per_s": generated / seconds if seconds else 0.0}
    if source.has_gold:
        rewards = source.gold([run.eval_prompts[i] for i in prompt_ids], texts).tolist()
        out["samples"]["rewards"] = rewards
        out["gold_reward"] = load_metric("gold_reward").compute(predictions=rewards, references=prompt_ids)
    if source.has_safety:  # two-factor data: which samples break the safety rule
        safe = source.safety(texts)
        out["samples"]["safe"] = safe.tolist()
        out["violation_rate"] = 1.0 - safe.double().mean().item()
    if algorithm is None:
        return out
    prompt_tokens = [prompt_token_ids(tokenizer, run.eval_prompts[i]) for i in prompt_ids]
    completions = [s.completion_ids for s in samples]
    batch_size = max(p.eval_batch_size // 4, 1)
    policy_logps = torch.tensor([s.logp for s in samples])  # from the sampler's own logits
    with reference_mode(model):
        ref_logps = _logps(model, tokenizer, prompt_tokens, completions, batch_size)
    out["samples"]["log_ratios"] = (policy_logps - ref_logps).tolist()
    out["kl"] = load_metric("kl_divergence").compute(predictions=policy_logps.tolist(), references=ref_logps.tolist(),
                                                     prompt_ids=prompt_ids)
    if p.kl_samples:
        kl = sample_kl(model, tokenizer, run.eval_prompts, p.kl_samples, p.data.max_new_tokens, p.eval_batch_size,
                       seed=KL_SEED + seed)
        mean, low, high = bootstrap_ci(kl.log_ratios, kl.prompt_ids)
        out["kl_samples"] = {"prompt_ids": kl.prompt_ids, "log_ratios": kl.log_ratios}
        out["sequence_kl"] = {"mean": mean, "ci_low": low, "ci_high": high, "n": len(kl.log_ratios)}
    if source.has_gold:
        reference = run.reference_samples(seed)
        if reference["prompt_ids"] != prompt_ids:
            raise RuntimeError("policy and reference samples are not aligned by prompt")
        out["win_rate"] = load_metric("win_rate").compute(predictions=out["samples"]["rewards"],
                                                          references=reference["rewards"], prompt_ids=prompt_ids)
    if algorithm.has_implicit_reward:
        margins = held_out_margins(model, algorithm, run.eval_data, tokenizer.pad_token_id)
        out["held_out_margins"] = margins.tolist()
        out["pair_accuracy"] = load_metric("pair_accuracy").compute(predictions=margins.tolist())
    return out
