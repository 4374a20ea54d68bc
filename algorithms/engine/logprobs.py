"""Per-token log-probs of response tokens without holding the whole batch's vocabulary logits.

A causal LM's vocabulary projection dominates the memory of a preference step at real sizes: for a
151,936-token vocabulary, 16 sequences of 256 response tokens have 2.5 GB of float32 logits, and
autograd keeps them, their log-softmax and their gradients alive until backward. Here the model's own
forward (so accelerate's autocast and a distributed wrapper still apply) returns the final hidden
states at response positions; the projection, log-sum-exp and gather run over groups of rows whose
float32 logits fit ``LOGITS_CHUNK_BYTES``, each group checkpointed (``torch.utils.checkpoint``), so
backward recomputes one group's logits at a time. A batch that fits one group takes exactly the
unchunked path (same operations, same bits).
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from prefzoo.algorithms.engine.models import causal_lm_of

LOGITS_CHUNK_BYTES = 512 * 2**20
"""Float32 logits per group of rows; one group's logits, softmax and gradient are alive at a time."""


def response_start(batch: dict[str, Tensor]) -> int:
    """The first column holding a response token in any row (right padding: prompts end before it)."""
    columns = batch["completion_mask"].any(0).nonzero()
    return int(columns[0]) if len(columns) else batch["completion_mask"].shape[1] - 1


def _separable_head(causal_lm) -> nn.Module | None:
    """The output projection when logits are exactly ``head(hidden)``; None for models that rescale or
    soft-cap logits after it (Gemma 2's ``final_logit_softcapping``, Cohere's ``logit_scale``)."""
    config = getattr(causal_lm, "config", None)
    if config is None or not hasattr(causal_lm, "get_output_embeddings"):
        return None
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    if getattr(text, "final_logit_softcapping", None) or getattr(text, "logit_scale", None) not in (None, 1.0):
        return None
    return causal_lm.get_output_embeddings()


@contextlib.contextmanager
def _hidden_states_as_logits(causal_lm):
    """The model's forward returns its final hidden states where it would return logits: the output
    projection is an identity for the block, so wrappers around ``forward`` still run."""
    head = causal_lm.get_output_embeddings()
    causal_lm.set_output_embeddings(nn.Identity())
    try:
        yield head
    finally:
        causal_lm.set_output_embeddings(head)


def _group_logps(head: nn.Module, hidden: Tensor, labels: Tensor, with_entropy: bool):
    """Token log-probs (and entropies) of one group of rows: ``hidden`` (G, K, H) at positions start−1 …
    L−1, ``labels`` (G, K − 1); the last position predicts nothing scored and is dropped after the
    projection, as the unchunked forward does."""
    logits = head(hidden)[:, :-1].float()
    log_z = torch.logsumexp(logits, -1)
    token_logps = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1) - log_z
    if not with_entropy:
        return token_logps, None
    return token_logps, log_z - (torch.softmax(logits, -1) * logits).sum(-1)


def rows_per_group(n_rows: int, positions: int, vocab: int, budget: int | None = None) -> int:
    """Rows whose float32 logits over ``positions`` fit ``budget`` (default ``LOGITS_CHUNK_BYTES``; at least one)."""
    budget = LOGITS_CHUNK_BYTES if budget is None else budget
    return max(1, min(n_rows, budget // max(1, positions * vocab * 4)))


def response_token_logps(model, batch: dict[str, Tensor], with_entropy: bool = False, start: int | None = None):
    """log π(y_t | x, y_<t) at every column from :func:`response_start` on, with the response mask there
    and, if asked, the policy's entropy at each of those positions; ``(N, L − start)`` each. A minibatch
    of a larger batch passes the batch's ``start``, so its columns line up with the batch's.

    Hidden states are kept only from the first response position of the batch on (``logits_to_keep``):
    prompt positions predict nothing that is scored. Each token's log-prob is its logit minus the row's
    log-sum-exp, so the full log-softmax over the vocabulary is never stored, and the projection runs
    in row groups of at most ``LOGITS_CHUNK_BYTES`` of logits (see the module's docstring).
    """
    start = response_start(batch) if start is None else start
    keep = batch["completion_mask"].shape[1] - start + 1  # positions start-1 … L-1; t predicts token t+1
    labels = batch["input_ids"][:, start:]
    mask = batch["completion_mask"][:, start:].float()
    causal_lm = causal_lm_of(model)
    head = _separable_head(causal_lm)
    if head is None:  # logits are not head(hidden): the model's own logits, whole
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       logits_to_keep=keep).logits
        token_logps, entropy = _group_logps(nn.Identity(), logits, labels, with_entropy)
        return token_logps, mask, entropy
    with _hidden_states_as_logits(causal_lm) as head:
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       logits_to_keep=keep).logits
    n = hidden.shape[0]
    group = rows_per_group(n, keep, head.weight.shape[0])
    if group >= n:
        token_logps, entropy = _group_logps(head, hidden, labels, with_entropy)
        return token_logps, mask, entropy
    parts = []
    for lo in range(0, n, group):
        args = (head, hidden[lo:lo + group], labels[lo:lo + group], with_entropy)
        parts.append(checkpoint(_group_logps, *args, use_reentrant=False) if torch.is_grad_enabled()
                     else _group_logps(*args))
    token_logps = torch.cat([p[0] for p in parts])
    entropy = torch.cat([p[1] for p in parts]) if with_entropy else None
    return token_logps, mask, entropy


def sequence_logps(model, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Σ_t log π(y_t | x, y_<t) over each sequence's response tokens, and the response lengths; (2B,) each."""
    token_logps, mask, _ = response_token_logps(model, batch)
    return (token_logps * mask).sum(-1), mask.sum(-1)


