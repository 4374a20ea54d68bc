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

from prefzoo.algorithms.engine.data import fingerprint, iter_pair_logps
from prefzoo.algorithms.engine.models import reference_mode


def cache_key(model_fingerprint: str, dataset, tokenization: dict) -> str:
    payload = json.dumps({"model": model_fingerprint, "data": fingerprint(dataset), "tokenization": tokenization},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


@torch.no_grad()
def compute_reference_logps(model, dataset, pad_id: int, batch_size: int = 8) -> torch.Tensor:
    """log π_ref of every (chosen, rejected) response, ``(n, 2)``, with the adapter disabled."""
    with reference_mode(model):
        return torch.cat([torch.stack(logps.cpu().chunk(2), 1)
                          for _, logps, _ in iter_pair_logps(model, dataset, pad_id, batch_size)])


def cached_reference_logps(model, dataset, pad_id: int, key: str, cache_root: Path, rows=None,
                           batch_size: int = 8) -> tuple[torch.Tensor, int]:
    """The reference log-probs of ``dataset``'s ``rows`` (all rows by default) from
    ``cache_root/reference/<key>.pt``, computing the rows the cache lacks and writing the file back
    atomically. Returns the ``(n, 2)`` tensor — NaN on rows never asked for — and how many rows were
    computed now (0: a full hit)."""
    path = Path(cache_root) / "reference" / f"{key}.pt"
    logps = torch.full((len(dataset), 2), float("nan"))
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
    """The dataset with ref_chosen / ref_rejected columns (what ``collate_pairs`` passes on)."""
    return dataset.add_column("ref_chosen", logps[:, 0].tolist()).add_column("ref_rejected", logps[:, 1].tolist())
