"""The ranked table of an LM suite: one table per setting, with paired statistics against the reference
and against the top row (see ``paired_stats``), as pure functions of the result documents."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch

from prefzoo.benchmarks.harness.documents import Interval
from prefzoo.benchmarks.harness.length_control import length_controlled
from prefzoo.benchmarks.harness.paired_stats import holm, interval, paired_difference, rank_intervals
from prefzoo.benchmarks.harness.stats import mean_ci
from prefzoo.benchmarks.harness.tables import code_list
from prefzoo.benchmarks.suites.lm.documents import LMResult, Samples

METRICS = ("gold_reward", "win_rate", "kl", "sequence_kl", "pair_accuracy", "violation_rate")
REFERENCE = "reference"
EVIDENCE_SEEDS = 3
"""A table whose rows have fewer seeds is a smoke run, and says so."""
ALPHA = 0.05


def setting_id(doc: LMResult, tuning: bool = True) -> str:
    """Eight hex digits naming everything a row's numbers depend on besides the algorithm: suite, data,
    profile settings (model, budget, sampler, ...), engine revision and, for configs selected by
    ``--tune``, the tuning protocol. Rows are ranked only against rows of the same setting."""
    parts = [doc.suite, doc.dataset, doc.settings, doc.data_key, doc.engine_revision]
    if tuning and doc.tuning:
        t = doc.tuning
        parts.append({"trials": t.trials, "validation_prompts": t.validation_prompts, "trial_seed": t.trial_seed})
    payload = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def by_setting(docs: Sequence[LMResult]) -> list[list[LMResult]]:
    """The documents split by ``setting_id``; untuned settings before tuned ones (a tuned setting is a
    variant of the one it was tuned in), then those that rank at matched KL (whose rows have a
    KL(π‖π_ref) estimate) before those of the fixed-budget protocol, then those with more seeds per row
    (the median row's: one row still running its first seed does not demote a setting), then larger. A
    tuned setting shares the reference cells of the setting it was tuned in (the reference has no config)."""
    groups: dict[str, list[LMResult]] = defaultdict(list)
    for doc in docs:
        groups[setting_id(doc)].append(doc)
    references = defaultdict(list)
    for doc in docs:
        if doc.algorithm == REFERENCE:
            references[setting_id(doc, tuning=False)].append(doc)
    for group in groups.values():
        if group[0].tuning:
            group += references[setting_id(group[0], tuning=False)]

    def weight(group):
        seeds = defaultdict(set)
        for d in group:
            seeds[d.algorithm].add(d.seed)
        counts = sorted(len(s) for s in seeds.values())
        matched_kl = any(d.eval.sequence_kl is not None for d in group if d.algorithm != REFERENCE)
        return (bool(group[0].tuning), not matched_kl, -counts[(len(counts) - 1) // 2], -len(group),
                setting_id(group[0]))
    return sorted(groups.values(), key=weight)


def per_prompt(values: Sequence[float], prompt_ids: Sequence[int]) -> torch.Tensor:
    """Mean of the values of each prompt, prompts in index order; shape (P,)."""
    v = torch.tensor(values, dtype=torch.float64)
    ids = torch.tensor(prompt_ids)
    keys, index = torch.unique(ids, return_inverse=True)
    sums = torch.zeros(len(keys), dtype=torch.float64).index_add_(0, index, v)
    return sums / torch.zeros(len(keys), dtype=torch.float64).index_add_(0, index, torch.ones_like(v))


def _wins(policy: list[float], reference: list[float]) -> list[float]:
    return [1.0 if p > r else 0.5 if p == r else 0.0 for p, r in zip(policy, reference)]


def _vectors(doc: LMResult, references: dict[int, Samples]) -> dict[str, torch.Tensor]:
    """Per-prompt (or per held-out pair) vectors of each metric this document's samples allow."""
    e, out = doc.eval, {}
    samples = e.samples
    ids = samples.prompt_ids if samples else None
    if ids and samples.rewards is not None:
        out["gold_reward"] = per_prompt(samples.rewards, ids)
        ref = references.get(doc.seed)
        if doc.algorithm != REFERENCE and ref is not None and ref.prompt_ids == ids:
            out["win_rate"] = per_prompt(_wins(samples.rewards, ref.rewards), ids)
    if ids and samples.safe is not None:  # two-factor data: the share of unsafe samples
        out["violation_rate"] = per_prompt([0.0 if safe else 1.0 for safe in samples.safe], ids)
    if ids and samples.log_ratios is not None:
        out["kl"] = per_prompt(samples.log_ratios, ids)
    if e.kl_samples is not None:
        out["sequence_kl"] = per_prompt(e.kl_samples.log_ratios, e.kl_samples.prompt_ids)
    elif ids and doc.algorithm == REFERENCE and doc.settings.get("kl_samples"):  # π = π_ref: KL 0 exactly
        out["sequence_kl"] = torch.zeros(len(set(ids)), dtype=torch.float64)
    if e.held_out_margins is not None:
        m = torch.tensor(e.held_out_margins, dtype=torch.float64)
        out["pair_accuracy"] = (m > 0).double() + 0.5 * (m == 0).double()
    return out


def _summary(values: list[Interval | float]) -> dict[str, float]:
    """Fallback for results without per-sample values: the one run's interval (a bare value where the
    document has no interval), or Student t over seeds."""
    values = [v if isinstance(v, Interval) else Interval(v, v, v, 1) for v in values]
    if len(values) == 1:
        return {"mean": values[0].mean, "low": values[0].ci_low, "high": values[0].ci_high, "seeds": 1}
    mean, half = mean_ci([v.mean for v in values])
    return {"mean": mean, "low": mean - half, "high": mean + half, "seeds": len(values)}


def aggregate(docs: Sequence[LMResult]) -> list[dict[str, Any]]:
    """One entry per (algorithm, config hash) of one setting, ranked by gold reward (held-out pair
    accuracy where the data have no gold reward): each metric's two-level bootstrap interval, the paired
    difference of the ranking metric to the reference and to the top row with Holm-adjusted p-values,
    and each row's rank interval."""
    references = {d.seed: d.eval.samples for d in docs if d.algorithm == REFERENCE and d.eval.samples}
    groups: dict[tuple[str, str], list[LMResult]] = defaultdict(list)
    for doc in docs:
        if doc.eval.reward is None:  # reward models have their own table
            groups[(doc.algorithm, doc.hash)].append(doc)
    rows = []
    for (name, _), group in groups.items():
        group = sorted(group, key=lambda d: d.seed)
        first = group[0]
        row = {"algorithm": first.row_name, "name": name, "family": first.family, "paper": first.paper,
               "seeds": len(group), "config": first.config, "profile": first.profile, "origin": first.origin,
               "dataset": first.dataset, "has_gold": first.has_gold, "vectors": {}}
        vectors = [_vectors(d, references) for d in group]
        for metric in METRICS:
            per_seed = {d.seed: v[metric] for d, v in zip(group, vectors) if metric in v}
            stored = [getattr(d.eval, metric) for d in group if getattr(d.eval, metric) is not None]
            if len(per_seed) == len(group):
                row["vectors"][metric] = per_seed
                row[metric] = interval(torch.stack(list(per_seed.values())))
            else:
                row[metric] = _summary(stored) if stored else None
        _length(row, group, references)
        _costs(row, group)
        rows.append(row)
    rows.sort(key=lambda r: -_rank_value(r))
    _compare(rows)
    _violations_vs_reference(rows)
    return rows


def _length(row: dict, group: list[LMResult], references: dict[int, Samples]) -> None:
    """``mean_length``: generated tokens per evaluation response; ``lc_win_rate``: the win rate against
    the reference controlled for the length difference (``length_control``), where every seed's samples
    pair with its reference's."""
    counts = [d.eval.generated_tokens / len(d.eval.samples.texts) for d in group if d.eval.samples]
    row["mean_length"] = sum(counts) / len(counts) if counts else None
    row["lc_win_rate"] = None
    pairs = [(d.eval.samples, references.get(d.seed)) for d in group]
    if row["name"] == REFERENCE or not all(s and s.rewards is not None and r is not None and r.prompt_ids == s.prompt_ids
                                           for s, r in pairs):
        return
    wins, lengths = [], []
    for samples, reference in pairs:
        order = sorted(range(len(samples.prompt_ids)), key=lambda i: samples.prompt_ids[i])
        wins.append(torch.tensor(_wins([samples.rewards[i] for i in order], [reference.rewards[i] for i in order])))
        lengths.append(torch.tensor([float(len(samples.texts[i]) - len(reference.texts[i])) for i in order]))
    prompts = len(set(pairs[0][0].prompt_ids))
    if any(len(w) % prompts for w in wins):  # unequal samples per prompt: no (S, P, K) layout
        return
    row["lc_win_rate"] = length_controlled(torch.stack(wins).view(len(group), prompts, -1),
                                           torch.stack(lengths).view(len(group), prompts, -1))


def _violations_vs_reference(rows: list[dict]) -> None:
    """``violations_vs_reference``: each row's paired difference in violation rate to the reference's."""
    reference = next((r for r in rows if r["name"] == REFERENCE and "violation_rate" in r["vectors"]), None)
    for r in rows:
        if reference is not None and r is not reference and "violation_rate" in r["vectors"]:
            r["violations_vs_reference"] = paired_difference(r["vectors"]["violation_rate"],
                                                             reference["vectors"]["violation_rate"])


def ranking_metric(row: dict) -> str:
    return "gold_reward" if row["has_gold"] else "pair_accuracy"


def _rank_value(row: dict) -> float:
    value = row[ranking_metric(row)]
    return value["mean"] if value else float("-inf")


def _compare(rows: list[dict]) -> None:
    """Fill ``vs_reference``, ``vs_top`` (paired differences, Holm-adjusted within the table) and ``rank``."""
    metric = ranking_metric(rows[0]) if rows else "gold_reward"
    ranked = [r for r in rows if metric in r["vectors"]]
    reference = next((r for r in ranked if r["name"] == REFERENCE), None)
    for key, base in (("vs_reference", reference), ("vs_top", next((r for r in ranked if r is not reference), None))):
        others = [r for r in ranked if base is not None and r is not base and r is not reference]
        for r in others:
            r[key] = paired_difference(r["vectors"][metric], base["vectors"][metric])
        for r, adjusted in zip(others, holm([r[key]["p"] for r in others])):
            r[key]["p_holm"] = adjusted
    if ranked:
        bounds = rank_intervals([torch.stack(list(r["vectors"][metric].values())) for r in ranked])
        for r, b in zip(ranked, bounds):
            r["rank"] = b


def _costs(row: dict, group: list[LMResult]) -> None:
    trains = [d.train for d in group if d.train]
    row["train_time_s"] = sum(t.wall_time_s for t in trains) / len(trains) if trains else None
    row["tokens_per_s"] = sum(t.tokens_per_s for t in trains) / len(trains) if trains else None
    row["peak_memory_gib"] = max(t.peak_memory_bytes for t in trains) / 2**30 if trains else None
    row["generated_tokens"] = sum(d.eval.generated_tokens for d in group) // len(group)
    for cost in ("oracle_queries", "responses_sampled", "generated_tokens"):
        values = [getattr(t, cost) for t in trains]
        key = "train_generated_tokens" if cost == "generated_tokens" else cost
        row[key] = sum(values) // len(values) if values else None


def beats_reference(row: dict) -> bool | None:
    """True above the reference, False below it (Holm-adjusted p < 0.05 and an interval that excludes 0),
    None when indistinguishable or not compared."""
    d = row.get("vs_reference")
    if d is None or d["p_holm"] >= ALPHA or d["low"] <= 0 <= d["high"]:
        return None
    return d["mean"] > 0


def verdict(rows: Sequence[dict]) -> str:
    """One sentence, from the numbers, on which rows beat the reference and which are indistinguishable."""
    compared = [r for r in rows if r.get("vs_reference")]
    seeds = max((r["seeds"] for r in rows), default=0)
    few = [r["algorithm"] for r in rows if r["seeds"] < EVIDENCE_SEEDS]
    if seeds < EVIDENCE_SEEDS:
        smoke = f"Smoke run ({seeds} seed{'s' if seeds > 1 else ''} per row): not evidence. "
    elif few:  # the rows with enough seeds stay evidence; these do not
        smoke = f"{code_list(few)} ran fewer than {EVIDENCE_SEEDS} seeds: not evidence. "
    else:
        smoke = ""
    if not compared:
        return smoke + "No row could be compared with the reference on the same prompts."
    above = [r["algorithm"] for r in compared if beats_reference(r) is True]
    below = [r["algorithm"] for r in compared if beats_reference(r) is False]
    same = [r["algorithm"] for r in compared if beats_reference(r) is None]
    metric = ranking_metric(compared[0]).replace("_", " ")
    parts = [smoke.strip()] if smoke else []
    parts.append(f"On {metric}, paired with the reference on the same prompts (Holm-adjusted p < {ALPHA}, "
                 "interval of the difference excluding 0): "
                 + "; ".join(p for p in (f"{code_list(above)} beat{'s' if len(above) == 1 else ''} it" if above else "",
                                         f"{code_list(below)} {'is' if len(below) == 1 else 'are'} below it" if below else "",
                                         f"{code_list(same)} {'is' if len(same) == 1 else 'are'} indistinguishable from it"
                                         if same else "") if p) + ".")
    top = next((r for r in rows if r["name"] != REFERENCE), None)
    tied = [r["algorithm"] for r in compared if r.get("vs_top") and r["vs_top"]["p_holm"] >= ALPHA]
    if top is not None and len(compared) > 1:
        parts.append(f"Indistinguishable from the top row ({top['algorithm']}): {code_list(tied) if tied else 'none'}.")
    return " ".join(parts)
