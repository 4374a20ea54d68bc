"""Out-of-distribution held-out pairs for smol-sentiment: the *incorrect generalisation* diagnostic of
"RLHF Deciphered" (Chaudhari et al. 2024, arXiv:2404.08555, §5). Their prompts come from templates and
subjects that no train or held-out prompt uses; their pairs are made as the held-out pairs are (a
prompt's best and worst reference sample by gold reward, ordered by the gold reward itself, no label
noise). A reward model's accuracy on them, beside its accuracy on the in-distribution held-out pairs,
says whether it learned what makes a review positive or the surface of the training prompts.

The pairs are evaluation data only: they never enter the data key, so adding them changed no result's
setting. They are cached per model and data settings like the train pairs, and the quick profile's
copy ships in ``benchmarks/suites/smol_sentiment/shipped`` so no machine samples them again.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from prefzoo.benchmarks.suites.smol_sentiment.data import (QUALIFIERS, SUBJECTS, SYSTEM, TEMPLATES, DataSettings,
                                                           conversations, reference_pairs)

OOD_TEMPLATES = (
    "Post a short tweet about {q} {s}.",
    "Leave a star-rating comment for {q} {s}.",
    "Text your sister one line about {q} {s}.",
    "How was {q} {s}? Answer in a sentence.",
)
OOD_SUBJECTS = ("car dealership", "airline", "bank branch", "vet clinic", "pharmacy", "escape room",
                "bowling alley", "nail salon", "water park", "food court", "pet shop", "ski resort")


def ood_prompts(settings: DataSettings) -> list[list[dict]]:
    """As many prompts as the held-out set has (``eval_prompts``), from the out-of-distribution pool."""
    every = [t.format(q=q, s=s) for t in OOD_TEMPLATES for s in OOD_SUBJECTS for q in QUALIFIERS]
    n = min(settings.eval_prompts, len(every))
    return conversations(random.Random(f"ood:{settings.seed}").sample(every, n))


def ood_file_name(base_key: str) -> str:
    """The pairs' file name: the data's key and the out-of-distribution pool's own hash."""
    pool = json.dumps([SYSTEM, OOD_TEMPLATES, OOD_SUBJECTS, QUALIFIERS, "disjoint from", TEMPLATES, SUBJECTS])
    return f"{base_key}-ood-{hashlib.sha256(pool.encode()).hexdigest()[:8]}"


def build_ood_pairs(model, tokenizer, settings: DataSettings, cache_file: Path) -> list[dict]:
    """Generate (or read from ``cache_file``) the out-of-distribution pairs, chosen = the better by gold."""
    if cache_file.exists():
        return json.loads(cache_file.read_text())["pairs"]
    from prefzoo.benchmarks.harness.results import write_json_atomic

    rows, dropped = reference_pairs(model, tokenizer, ood_prompts(settings), settings)
    pairs = [{k: v for k, v in row.items() if k != "index"} for row in rows]
    write_json_atomic(cache_file, {"pairs": pairs, "settings": settings.to_dict(), **dropped})
    return pairs
