"""Reference log-probs, computed once per (model, data, tokenisation) and row, and cached on disk.

Every reference-based pairwise algorithm of a benchmark run reads the same file, so π_ref's forward
passes over the training data are paid once, not once per algorithm (TRL's
``precompute_ref_log_probs``, shared across trainers). Only the rows a run reads are computed: a short
budget on a large dataset pays for the pairs it trains on, and a later, longer run adds the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

from prefzoo.algorithms.engine.data import fingerprint, iter_batch_logps
from prefzoo.algorithms.engine.models import reference_mode
from prefzoo.algorithms.engine.unpaired_data import collate_unpaired, is_unpaired


def cache_key(model_fingerprint: str, dataset, tokenization: dict) -> str:
    payload = json.dumps({"model": model_fingerprint, "data": fingerprint(dataset), "tokenization": tokenization},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def responses_per_row(dataset) -> int:
    """2 for pairs (chosen, rejected), 1 for unpaired rows (completion)."""
    return 1 if is_unpaired(dataset) else 2


@torch.no_grad()
def compute_reference_logps(model, dataset, pad_id: int, batch_size: int = 8) -> torch.Tensor:
    """log π_ref of every (chosen, rejected) response, ``(n, 2)`` — or of every unpaired completion,
    ``(n, 1)`` — with the adapter disabled."""
    with reference_mode(model):
        if is_unpaired(dataset):
            return torch.cat([logps.cpu()[:, None] for _, logps, _ in iter_batch_logps(model, dataset, pad_id,
                                                                                       batch_size, collate_unpaired)])
        return torch.cat([torch.stack(logps.cpu().chunk(2), 1)
                          for _, logps, _ in iter_batch_logps(model, dataset, pad_id, batch_size)])


def cached_reference_logps(model, dataset, pad_id: int, key: str, cache_root: Path, rows=None,
                           batch_size: int = 8) -> tuple[torch.Tensor, int]:
    """The reference log-probs of ``dataset``'s ``rows`` (all rows by default) from
    ``cache_root/reference/<key>.pt``, computing the rows the cache lacks and writing the file back
    atomically. Returns the ``(n, 2)`` tensor (``(n, 1)`` for unpaired rows) — NaN on rows never asked
    for — and how many rows were computed now (0: a full hit)."""
    path = Path(cache_root) / "reference" / f"{key}.pt"
    logps = torch.full((len(dataset), responses_per_row(dataset)), float("nan"))
    if path.exists():
        cached = torch.load(path)
        if cached.shape == logps.shape:
            logps = cached
    wanted = range(len(dataset)) if rows is None else sorted(set(rows))
    todo = [i for i in wanted if logps[i].isnan().any()]
    if not todo:
        return logps, 0
    logps[todo] = compute_reference_logps(model, dataset.select(todo), pad_id, batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    torch.save(logps, tmp)
    os.replace(tmp, path)
    return logps, len(todo)


def with_reference(dataset, logps: torch.Tensor):
    """The dataset with ref_chosen / ref_rejected columns (what ``collate_pairs`` passes on), or for
    unpaired rows a ref column."""
    if is_unpaired(dataset):
        return dataset.add_column("ref", logps[:, 0].tolist())
    return dataset.add_column("ref_chosen", logps[:, 0].tolist()).add_column("ref_rejected", logps[:, 1].tolist())
