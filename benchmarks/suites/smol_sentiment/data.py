"""The default LM suite's data: templated review prompts, response pairs sampled from the reference
model, a gold reward we can check (VADER sentiment), and noisy Bradley–Terry labels.

Prompts are drawn (fixed seed) from templates × subjects × qualifiers, split into disjoint train and
held-out sets. Each prompt gets ``samples_per_prompt`` reference samples from the suite's sampler
(temperature 0.7, top-p 0.9: the 4-bit model writes English there, and half-gibberish at temperature 1);
the gold reward is VADER's compound sentiment score in [−1, 1] (Hutto & Gilbert 2014), optionally minus
a length term. As in the DPO paper's controlled-sentiment task (Rafailov et al. 2023, §6.1: several
samples per prefix, pairs from the reward), a prompt's pair is its best and its worst sample by gold
reward, so the pair has the largest margin the samples offer; a prompt whose samples all tie is dropped
(nothing to learn, and its label would be a coin flip). The train label says the best is preferred
with probability σ((r_best − r_worst)/T), T the label temperature, so labels are noisy the way human
labels are. Held-out pairs are labelled by the gold reward itself (no noise): they measure how well an
implicit reward ranks responses.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import torch

from prefzoo.benchmarks.suites.lm.data_settings import DataSettings

SUITE = "smol-sentiment"
# Short on purpose: every prompt token is paid in every forward pass of training and evaluation (the
# prompt is most of a sequence), and without a system message SmolLM2's template inserts a longer one.
SYSTEM = "Be brief."
TEMPLATES = (
    "Write a one-sentence review of {q} {s}.",
    "Describe your last visit to {q} {s}.",
    "Tell a friend about {q} {s} you tried.",
    "Give a short opinion of {q} {s}.",
    "What did you think of {q} {s}?",
    "Write a customer comment about {q} {s}.",
    "Sum up your experience at {q} {s} in a sentence.",
    "Review {q} {s} for a travel guide.",
)
SUBJECTS = ("pizza place", "coffee shop", "hotel", "bookstore", "museum", "gym", "bakery", "sushi bar", "cinema",
            "hair salon", "dentist", "car wash", "library", "zoo", "taco truck", "bike shop", "theme park",
            "florist", "laundromat", "ramen shop", "music venue", "farmers market", "ice cream parlour",
            "hardware store", "yoga studio", "train station", "campsite", "steakhouse", "tea room", "arcade")
QUALIFIERS = ("a", "a new", "a local", "a small", "a busy")


def make_prompts(settings: DataSettings) -> tuple[list[list[dict]], list[list[dict]]]:
    """Disjoint train and held-out conversational prompts (system + user message)."""
    every = [t.format(q=q, s=s) for t in TEMPLATES for s in SUBJECTS for q in QUALIFIERS]
    need = settings.train_prompts + settings.eval_prompts
    if need > len(every):
        raise ValueError(f"{SUITE}: {need} prompts asked for, {len(every)} distinct ones exist")
    convo = conversations(random.Random(settings.seed).sample(every, need))
    return convo[:settings.train_prompts], convo[settings.train_prompts:]


def validation_prompts(settings: DataSettings, n: int) -> list[list[dict]]:
    """``n`` prompts disjoint from the train and held-out prompts of ``settings`` (drawn from the rest of
    the pool by their own generator, so the data of an untuned run do not change): what ``--tune``
    selects a config on."""
    every = [t.format(q=q, s=s) for t in TEMPLATES for s in SUBJECTS for q in QUALIFIERS]
    used = {m[1]["content"] for part in make_prompts(settings) for m in part}
    rest = sorted(set(every) - used)
    if n > len(rest):
        raise ValueError(f"{SUITE}: {n} validation prompts asked for, {len(rest)} remain beside the data's")
    return conversations(random.Random(f"validation:{settings.seed}").sample(rest, n))


def conversations(requests: list[str]) -> list[list[dict]]:
    """Each request as the suite's conversational prompt (its short system message, then the request)."""
    return [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": c}] for c in requests]


def gold_reward(texts: list[str], length_weight: float = 0.0) -> torch.Tensor:
    """The ``vader`` judge's compound sentiment of each response, minus λ·(words / 10); shape (n,)."""
    from prefzoo.benchmarks.judges.vader import Vader

    scores = Vader().score(None, texts)
    if length_weight:
        scores = scores - torch.tensor([length_weight * len(t.split()) / 10 for t in texts], dtype=torch.float64)
    return scores


def bradley_terry_labels(r1: torch.Tensor, r2: torch.Tensor, temperature: float, seed: int) -> torch.Tensor:
    """True where y₁ is labelled preferred, drawn with probability σ((r₁ − r₂)/T); shape (n,)."""
    g = torch.Generator().manual_seed(seed)
    p = torch.sigmoid((r1 - r2) / temperature)
    return torch.rand(p.shape, generator=g, dtype=torch.float64) < p


def swapped(row: dict) -> dict:
    """The pair with chosen and rejected (and their gold rewards) exchanged."""
    return {**row, "chosen": row["rejected"], "rejected": row["chosen"], "gold_chosen": row["gold_rejected"],
            "gold_rejected": row["gold_chosen"]}


def relabelled_train(data: dict, temperature: float, seed: int) -> list[dict]:
    """``data``'s train pairs (``build_pairs``' output) labelled again by a Bradley–Terry labeller at
    ``temperature``, with the uniform draws ``build_pairs`` labelled them with (same seed, same rows in the
    same order: the train pairs, then the held-out ones), so the labels change only where the new
    probability crosses a pair's draw; at the data's own temperature the rows come back as they were.
    A labeller at another temperature than the one the data declare is what the "misspecification" rows
    of the reward-model leaderboard train on (Chaudhari et al. 2024, §5)."""
    rows = data["train"] + data["eval"]
    best = torch.tensor([max(r["gold_chosen"], r["gold_rejected"]) for r in rows], dtype=torch.float64)
    worst = torch.tensor([min(r["gold_chosen"], r["gold_rejected"]) for r in rows], dtype=torch.float64)
    labels = bradley_terry_labels(best, worst, temperature, seed)
    out = []
    for row, best_preferred in zip(data["train"], labels.tolist()):
        if (row["gold_chosen"] > row["gold_rejected"]) != best_preferred:  # no gold ties: build_pairs drops them
            row = swapped(row)
        out.append(row)
    return out


def data_key(model_fingerprint: str, settings: DataSettings) -> str:
    """Identifies the generated data: the model, the settings, and the prompt pool itself (so editing a
    template never reuses data generated from the old one)."""
    pool = [SYSTEM, TEMPLATES, SUBJECTS, QUALIFIERS]
    payload = json.dumps({"suite": SUITE, "model": model_fingerprint, "data": settings.to_dict(), "prompts": pool},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def best_and_worst(rewards: torch.Tensor) -> tuple[int, int] | None:
    """Indices of the highest and the lowest of one prompt's sample rewards (the first of equals), or
    None when every sample ties."""
    best, worst = int(rewards.argmax()), int(rewards.argmin())
    return None if rewards[best] == rewards[worst] else (best, worst)


def reference_pairs(model, tokenizer, prompts: list, settings: DataSettings, progress=None) -> tuple[list[dict], dict]:
    """Each prompt's best and worst reference sample by gold reward, chosen = best: rows in TRL's
    conversational format with both gold rewards and the prompt's index, and the counts of prompts
    dropped (every sample tied, or fewer than two non-empty samples)."""
    from prefzoo.algorithms.engine.generation import sample_responses

    k = settings.samples_per_prompt
    samples = sample_responses(model, tokenizer, prompts, k, settings.max_new_tokens, settings.generation_batch_size,
                               settings.seed, reference=True, progress=progress, **settings.sampler())
    texts = [s.text for s in samples]
    rewards = gold_reward(texts, settings.length_weight).view(len(prompts), k)
    rows, dropped = [], {"dropped_ties": 0, "dropped_empty": 0}
    for i in range(len(prompts)):
        # an empty response says nothing about sentiment: it never enters a pair
        usable = [j for j in range(k) if texts[i * k + j]]
        pair = best_and_worst(rewards[i, usable]) if len(usable) >= 2 else None
        if pair is None:
            dropped["dropped_ties" if len(usable) >= 2 else "dropped_empty"] += 1
            continue
        b, w = usable[pair[0]], usable[pair[1]]
        rows.append({"prompt": prompts[i], "chosen": [{"role": "assistant", "content": texts[i * k + b]}],
                     "rejected": [{"role": "assistant", "content": texts[i * k + w]}],
                     "gold_chosen": float(rewards[i, b]), "gold_rejected": float(rewards[i, w]), "index": i})
    return rows, dropped


def build_pairs(model, tokenizer, settings: DataSettings, cache_file: Path, progress=None) -> dict:
    """Generate (or read from ``cache_file``) the suite's data:
    ``{"train": rows, "eval": rows, "eval_prompts": prompts}``, rows in TRL's conversational format with
    the gold rewards of both responses and, for train rows, the noisy label that ordered them."""
    if cache_file.exists():
        return json.loads(cache_file.read_text())
    from prefzoo.benchmarks.harness.results import write_json_atomic

    train_prompts, eval_prompts = make_prompts(settings)
    rows, dropped = reference_pairs(model, tokenizer, train_prompts + eval_prompts, settings, progress)
    best = torch.tensor([r["gold_chosen"] for r in rows], dtype=torch.float64)
    worst = torch.tensor([r["gold_rejected"] for r in rows], dtype=torch.float64)
    labels = bradley_terry_labels(best, worst, settings.label_temperature, settings.seed)
    data = {"train": [], "eval": [], "eval_prompts": eval_prompts, "settings": settings.to_dict(), **dropped}
    for row, label in zip(rows, labels.tolist()):
        is_train = row.pop("index") < len(train_prompts)
        if is_train and not label:
            row = swapped(row)
        data["train" if is_train else "eval"].append(row)
    write_json_atomic(cache_file, data)
    return data
