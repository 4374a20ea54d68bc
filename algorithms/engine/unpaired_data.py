"""Unpaired preference data in TRL's format — one response per row with a binary label (prompt /
completion / label, plain or conversational) — for the algorithms that learn from single labelled
responses (KTO): validation with errors naming the row and field, tokenisation, padded batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from prefzoo.algorithms.engine.data import (DatasetError, TokenizationSettings, _is_conversation, check_text_field,
                                            collate_sequences, mismatched_sequences, row_name)

UNPAIRED_COLUMNS = ("prompt", "completion", "label")
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def is_unpaired(dataset) -> bool:
    """Whether a tokenised dataset (a ``datasets.Dataset`` or a list of rows) holds unpaired rows."""
    columns = getattr(dataset, "column_names", None)
    if columns is None:
        columns = dataset[0].keys() if len(dataset) else ()
    return "completion_ids" in columns


def parse_label(value: Any, where: str) -> bool:
    """A row's label as a bool: JSON true/false, 1/0, or the text a CSV file holds ("true", "0", ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise DatasetError(f"{where}, field 'label': expected true or false (desirable or not), got {value!r}")


def validate_unpaired(rows: Sequence[dict[str, Any]], source: str = "dataset") -> None:
    """Refuse a missing column, an empty or non-text prompt or completion, a label that is not a boolean,
    prompt and completion of different kinds, or rows mixing text and conversations."""
    if len(rows) == 0:
        raise DatasetError(f"{source}: no rows")
    first_kind = None
    for i, row in enumerate(rows):
        where = f"{source}, {row_name(row, i)}"
        for column in UNPAIRED_COLUMNS:
            if column not in row or row[column] is None or (isinstance(row[column], str) and not row[column].strip()):
                present = [c for c in UNPAIRED_COLUMNS if row.get(c) not in (None, "")]
                raise DatasetError(f"{where}: field {column!r} is missing or empty"
                                   + (f" (present: {', '.join(present)})" if present else ""))
        parse_label(row["label"], where)
        kinds = set()
        for column in ("prompt", "completion"):
            check_text_field(row[column], f"{where}, field {column!r}")
            kinds.add(_is_conversation(row[column]))
        if len(kinds) > 1:
            raise DatasetError(f"{where}: prompt and completion must both be text or both be conversations")
        kind = kinds.pop()
        if first_kind is None:
            first_kind = (kind, row_name(row, i))
        elif kind != first_kind[0]:
            name = lambda k: "conversational" if k else "plain text"  # noqa: E731
            raise DatasetError(f"{where}: {name(kind)}, but {first_kind[1]} is {name(first_kind[0])}; a dataset is "
                               "one or the other")


def tokenize_unpaired(rows: Sequence[dict[str, Any]], tokenizer, settings: TokenizationSettings,
                      source: str = "dataset"):
    """Validate and tokenise; a ``datasets.Dataset`` with prompt_ids, completion_ids and label. The
    completion is tokenised as ``tokenize_pair`` tokenises a response (chat template, or text + EOS)."""
    from datasets import Dataset

    from prefzoo.algorithms.engine.data import tokenize_pair

    validate_unpaired(rows, source)
    out = []
    for i, row in enumerate(rows):
        where = f"{source}, {row_name(row, i)}"
        # a pair whose two responses are this completion and a placeholder: the one tokenisation path
        placeholder = [{"role": "assistant", "content": "."}] if _is_conversation(row["completion"]) else "."
        ids = tokenize_pair({"prompt": row["prompt"], "chosen": row["completion"], "rejected": placeholder},
                            tokenizer, settings, where)
        out.append({"prompt_ids": ids["prompt_ids"], "completion_ids": ids["chosen_ids"],
                    "label": parse_label(row["label"], where)})
    return Dataset.from_list(out)


def collate_unpaired(rows: Sequence[dict[str, Any]], pad_id: int, mismatched: bool = False) -> dict[str, torch.Tensor]:
    """B sequences (prompt + completion) as :func:`collate_sequences` lays them out, ``label`` (B,) bool,
    ``ref`` (B,) when the rows carry it, and with ``mismatched`` each completion after the previous row's
    prompt (TRL's KTO KL batch)."""
    prompts = [row["prompt_ids"] for row in rows]
    completions = [row["completion_ids"] for row in rows]
    batch = collate_sequences(prompts, completions, pad_id)
    batch["label"] = torch.tensor([bool(row["label"]) for row in rows])
    if "ref" in rows[0]:
        batch["ref"] = torch.tensor([row["ref"] for row in rows], dtype=torch.float32)
    if mismatched:
        batch.update(mismatched_sequences(prompts, completions, pad_id))
    return batch
