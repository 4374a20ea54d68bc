"""Preference pairs in TRL's format (prompt / chosen / rejected, plain or conversational):
validation with errors that name the row and field, tokenisation, and padded batches."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from prefzoo.algorithms.engine.logprobs import sequence_logps

COLUMNS = ("prompt", "chosen", "rejected")


class DatasetError(ValueError):
    """A preference dataset that cannot be trained on; the message names the row and the field."""


@dataclass(frozen=True)
class TokenizationSettings:
    """Length limits, in tokens. A prompt over the limit is refused (cutting it would change the
    question); a response over its limit is cut."""

    max_prompt_length: int = 128
    max_completion_length: int = 64

    def to_dict(self) -> dict:
        return asdict(self)


def _is_conversation(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, dict) for m in value)


def row_name(row: dict[str, Any], index: int) -> str:
    """How a message names a row: where it sits in the user's file when known ("line 18 (row 17)")."""
    return row.get("_where") or f"row {index}"


def check_text_field(value: Any, where: str) -> None:
    """Refuse a field that is neither non-empty text nor a non-empty list of messages with a role and
    non-empty text content; ``where`` names the file, row and field."""
    if _is_conversation(value):
        if not value:
            raise DatasetError(f"{where}: empty conversation")
        for j, message in enumerate(value):
            content = message.get("content")
            if "role" not in message or not isinstance(content, str) or not content.strip():
                raise DatasetError(f"{where}, message {j}: needs a role and non-empty text content, got {message!r}")
    elif not isinstance(value, str):
        raise DatasetError(f"{where}: expected text or a list of messages, got {type(value).__name__} {value!r}")
    elif not value.strip():
        raise DatasetError(f"{where}: empty text")


def validate_pairs(rows: Sequence[dict[str, Any]], source: str = "dataset") -> None:
    """Refuse a dataset with a missing column, an empty or non-text field, chosen == rejected, or rows
    that mix plain text and conversations. Rows read from a user's file carry ``_where`` (their line),
    which the messages use."""
    if len(rows) == 0:
        raise DatasetError(f"{source}: no rows")
    first_kind = None
    for i, row in enumerate(rows):
        where = row_name(row, i)
        for column in COLUMNS:
            if column not in row or row[column] is None:
                present = [c for c in COLUMNS if row.get(c) is not None]
                raise DatasetError(f"{source}, {where}: field {column!r} is missing or empty"
                                   + (f" (present: {', '.join(present)})" if present else ""))
            check_text_field(row[column], f"{source}, {where}, field {column!r}")
        kinds = {_is_conversation(row[c]) for c in COLUMNS}
        if len(kinds) > 1:
            raise DatasetError(f"{source}, {where}: prompt, chosen and rejected must all be text or all be "
                               "conversations")
        kind = kinds.pop()
        if first_kind is None:
            first_kind = (kind, where)
        elif kind != first_kind[0]:
            name = lambda k: "conversational" if k else "plain text"  # noqa: E731
            raise DatasetError(f"{source}, {where}: {name(kind)}, but {first_kind[1]} is {name(first_kind[0])}; "
                               "a dataset is one or the other")
        if row["chosen"] == row["rejected"]:
            raise DatasetError(f"{source}, {where}: fields 'chosen' and 'rejected' are identical ({row['chosen']!r})")


def prompt_token_ids(tokenizer, prompt: str | list[dict]) -> list[int]:
    """Token ids of a prompt: a conversation rendered by the chat template, ready for the assistant's
    turn, or plain text as the tokenizer encodes it."""
    if isinstance(prompt, str):
        return tokenizer(prompt)["input_ids"]
    text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def tokenize_pair(row: dict[str, Any], tokenizer, settings: TokenizationSettings, where: str) -> dict[str, list[int]]:
    """Token ids of the prompt and of each response (the response ends with the end-of-turn token)."""
    if _is_conversation(row["prompt"]):
        prompt_text = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        completions = []
        for column in ("chosen", "rejected"):
            full = tokenizer.apply_chat_template(row["prompt"] + row[column], tokenize=False)
            if not full.startswith(prompt_text):
                raise DatasetError(f"{where}, field {column!r}: the chat template does not extend the prompt")
            completions.append(full[len(prompt_text):])
        prompt_ids = prompt_token_ids(tokenizer, row["prompt"])
        chosen_ids, rejected_ids = (tokenizer(c, add_special_tokens=False)["input_ids"] for c in completions)
    else:
        prompt_ids = prompt_token_ids(tokenizer, row["prompt"])
        chosen_ids, rejected_ids = (tokenizer(row[c], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                                    for c in ("chosen", "rejected"))
    if len(prompt_ids) > settings.max_prompt_length:
        raise DatasetError(f"{where}, field 'prompt': {len(prompt_ids)} tokens, over max_prompt_length="
                           f"{settings.max_prompt_length}")
    cut = settings.max_completion_length
    out = {"prompt_ids": prompt_ids, "chosen_ids": chosen_ids[:cut], "rejected_ids": rejected_ids[:cut]}
    return out | safety_labels(row, where)


SAFETY_COLUMNS = ("chosen_safe", "rejected_safe")


def safety_labels(row: dict[str, Any], where: str) -> dict[str, bool]:
    """The row's binary safety labels of its two responses (two-factor data, BFPO's I_safe), when it
    has them: both columns or neither, each true/false (or 1/0)."""
    present = [c for c in SAFETY_COLUMNS if row.get(c) is not None]
    if not present:
        return {}
    if len(present) == 1:
        missing = next(c for c in SAFETY_COLUMNS if c not in present)
        raise DatasetError(f"{where}: field {present[0]!r} is given but {missing!r} is missing (a pair's safety "
                           "labels come together)")
    for column in SAFETY_COLUMNS:
        if row[column] not in (True, False):  # 1 and 0 compare equal to them
            raise DatasetError(f"{where}, field {column!r}: expected true or false, got {row[column]!r}")
    return {c: bool(row[c]) for c in SAFETY_COLUMNS}


def tokenize_pairs(rows: Sequence[dict[str, Any]], tokenizer, settings: TokenizationSettings,
                   source: str = "dataset"):
    """Validate and tokenise; returns a ``datasets.Dataset`` with prompt_ids, chosen_ids, rejected_ids."""
    from datasets import Dataset

    validate_pairs(rows, source)
    tokenised = [tokenize_pair(row, tokenizer, settings, f"{source}, {row_name(row, i)}") for i, row in enumerate(rows)]
    for i, t in enumerate(tokenised):
        if t["chosen_ids"] == t["rejected_ids"]:
            raise DatasetError(f"{source}, {row_name(rows[i], i)}: 'chosen' and 'rejected' tokenise to the same "
                               f"{settings.max_completion_length} tokens")
    return Dataset.from_list(tokenised)


def fingerprint(dataset) -> str:
    """A content hash of the token ids (stable across processes, unlike object ids)."""
    h = hashlib.sha256()
    for column in ("prompt_ids", "chosen_ids", "rejected_ids", "completion_ids", "label"):
        if column not in dataset.column_names:  # pairs or unpaired rows
            continue
        for ids in dataset[column]:
            h.update(torch.tensor(ids, dtype=torch.int64).numpy().tobytes())
            h.update(b"|")
    return h.hexdigest()[:16]


def collate_sequences(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]],
                      pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded prompt + completion sequences with a mask over completion tokens; (N, L) each."""
    sequences = [list(p) + list(c) for p, c in zip(prompts, completions)]
    length = max(len(s) for s in sequences)
    n = len(sequences)
    input_ids = torch.full((n, length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros(n, length, dtype=torch.long)
    completion_mask = torch.zeros(n, length, dtype=torch.long)
    for i, (seq, prompt) in enumerate(zip(sequences, prompts)):
        input_ids[i, :len(seq)] = torch.tensor(seq)
        attention_mask[i, :len(seq)] = 1
        completion_mask[i, len(prompt):len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask}


def collate_pairs(rows: Sequence[dict[str, Any]], pad_id: int, mismatched: bool = False) -> dict[str, torch.Tensor]:
    """2B sequences — the B chosen, then the B rejected — as :func:`collate_sequences` lays them out,
    plus ref_chosen / ref_rejected (B,) when the rows carry them. ``mismatched`` adds the same 2B
    responses each after the previous sequence's prompt (``mismatched_*`` keys), TRL's KTO KL batch."""
    prompts = [row["prompt_ids"] for row in rows] * 2
    completions = [row["chosen_ids"] for row in rows] + [row["rejected_ids"] for row in rows]
    batch = collate_sequences(prompts, completions, pad_id)
    if mismatched:
        batch.update(mismatched_sequences(prompts, completions, pad_id))
    if "ref_chosen" in rows[0]:
        batch["ref_chosen"] = torch.tensor([r["ref_chosen"] for r in rows], dtype=torch.float32)
        batch["ref_rejected"] = torch.tensor([r["ref_rejected"] for r in rows], dtype=torch.float32)
    for column in SAFETY_COLUMNS:
        if column in rows[0]:
            batch[column] = torch.tensor([float(r[column]) for r in rows])
    return batch


def mismatched_sequences(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]],
                         pad_id: int) -> dict[str, torch.Tensor]:
    """Each completion after the previous row's prompt — (x_i, y_{i−1}), the last completion first — as
    TRL's KTO collator rotates them, under ``mismatched_`` keys. Needs at least two rows."""
    if len(completions) < 2:
        raise ValueError("a mismatched-pair KL estimate needs at least two sequences in a micro-batch")
    rotated = [completions[-1], *completions[:-1]]
    return {f"mismatched_{k}": v for k, v in collate_sequences(prompts, rotated, pad_id).items()}


def unprefixed(batch: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors of ``batch`` whose keys start with ``prefix``, under their keys without it."""
    return {k[len(prefix):]: v for k, v in batch.items() if k.startswith(prefix)}


def iter_batch_logps(model, dataset, pad_id: int, batch_size: int, collate=collate_pairs):
    """The model's sequence log-probs of a tokenised dataset (a ``datasets.Dataset`` or a list of rows),
    batch by batch, in order: yields the device batch ``collate`` makes (pairs by default: 2B sequences,
    see :func:`collate_pairs`; ``collate_unpaired``: B), its logps and lengths as float32."""
    device = next(model.parameters()).device
    for start in range(0, len(dataset), batch_size):
        end = min(start + batch_size, len(dataset))
        rows = dataset[start:end] if isinstance(dataset, list) else list(dataset.select(range(start, end)))
        batch = {k: v.to(device) for k, v in collate(rows, pad_id).items()}
        logps, lengths = sequence_logps(model, batch)
        yield batch, logps.float(), lengths.float()
