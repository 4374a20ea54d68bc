"""Sequence-level KL(π ‖ π_ref), one quantity for every family.

Which KL. Evaluation samples come from a tempered, truncated sampler (temperature 0.7, top-p 0.9 on
smol-sentiment): they are not samples of π, and under truncation a sampled token can have probability 0
under a truncated π_ref, so "the KL of the sampler" is either not what training regularises or infinite.
The quantity here is the KL of the untempered, untruncated policies over responses of at most
``max_new_tokens`` tokens,

    KL_L(π ‖ π_ref) = E_{y ~ π_L}[log π_L(y | x) − log π_ref,L(y | x)],

where π_L is π with responses cut at L tokens (a response cut at the cap is the event "its first L
tokens are these": probability Π_t π(y_t | x, y_<t) over those tokens, the same under π_ref). It is the KL
that the β of the RLHF objective (Ziegler et al. 2019; Rafailov et al. 2023, Eq. 3) charges per response,
finite because π_ref gives every token positive probability at temperature 1, and the x-axis of the
reward–KL frontier (Rafailov et al. 2023, §6.1, Fig. 2). Its estimator is the mean of the log-ratio on
samples drawn from π at temperature 1 with no truncation — a separate, small set of samples, since the
evaluation's own samples are drawn from another distribution — which is unbiased (Schulman's k1); the
interval comes from resampling prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from prefzoo.algorithms.engine.data import collate_sequences, prompt_token_ids
from prefzoo.algorithms.engine.generation import sample_responses
from prefzoo.algorithms.engine.logprobs import sequence_logps
from prefzoo.algorithms.engine.models import reference_mode

KL_SAMPLER = {"temperature": 1.0, "top_p": 1.0, "top_k": 0}
"""The sampler of the KL samples: π itself, untempered and untruncated."""


@dataclass(frozen=True)
class KLSamples:
    """``log_ratios[i]`` = log π(y_i | x) − log π_ref(y_i | x) of sample i of prompt ``prompt_ids[i]``,
    each y_i drawn from π at temperature 1 without truncation; shapes (N,)."""

    prompt_ids: list[int]
    log_ratios: list[float]

    @property
    def estimate(self) -> float:
        """The unbiased estimate of KL_L(π ‖ π_ref), in nats per response."""
        return float(torch.tensor(self.log_ratios, dtype=torch.float64).mean())


@torch.no_grad()
def sample_kl(model, tokenizer, prompts: Sequence, n_per_prompt: int, max_new_tokens: int, batch_size: int,
              seed: int) -> KLSamples:
    """Draw ``n_per_prompt`` samples of π (the model with its adapter) per prompt at temperature 1 without
    truncation, and their log-ratios against π_ref (the adapter disabled). log π is read from the
    sampler's own logits; log π_ref from one forward pass of the base over each prompt and sample."""
    samples = sample_responses(model, tokenizer, prompts, n_per_prompt, max_new_tokens, batch_size, seed=seed,
                               with_logps=True, merged=False, **KL_SAMPLER)
    prompt_ids = [s.prompt_index for s in samples]
    prompt_tokens = [prompt_token_ids(tokenizer, prompts[i]) for i in prompt_ids]
    completions = [s.completion_ids for s in samples]
    device = next(model.parameters()).device
    reference = []
    with reference_mode(model):
        for start in range(0, len(samples), batch_size):
            batch = collate_sequences(prompt_tokens[start:start + batch_size], completions[start:start + batch_size],
                                      tokenizer.pad_token_id)
            reference.append(sequence_logps(model, {k: v.to(device) for k, v in batch.items()})[0].double().cpu())
    policy = torch.tensor([s.logp for s in samples], dtype=torch.float64)
    return KLSamples(prompt_ids, (policy - torch.cat(reference)).tolist())
