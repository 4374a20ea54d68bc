"""The ranking at matched KL: each algorithm's reward–KL frontier per seed (``harness.frontier``), read
at a few KL levels and ranked at the headline one with the ranked table's statistics.

An algorithm's points in a setting are every evaluation of every config it ran there — the final one
and those along training (``--eval-at``), at each strength it was swept over — at KL(π‖π_ref) estimated
on samples of π itself (``engine.kl``), plus the reference policy's (KL 0) of the same seed. Rows are
algorithms, not configs: a frontier is what an algorithm can reach, whatever β it took."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch

from prefzoo.benchmarks.harness.frontier import read_at
from prefzoo.benchmarks.harness.paired_stats import holm, interval, paired_difference, rank_intervals
from prefzoo.benchmarks.harness.tables import ci_text, delta_text, rank_text
from prefzoo.benchmarks.suites.lm.documents import Evaluation, LMResult
from prefzoo.benchmarks.suites.lm.table import EVIDENCE_SEEDS, REFERENCE, per_prompt
from prefzoo.benchmarks.suites.lm.table_power import global_test_text

KL_LEVELS = (0.5, 1.0, 2.0, 4.0, 8.0)
"""KL(π‖π_ref) levels, nats per response, at which frontiers are read, chosen on a measured DPO path: on
smol-sentiment (quick profile, lr 3e-4, 48 steps, evaluated after steps 3, 6, 12 and 24) DPO reached KL
0.2, 0.8, 2.6, 10.8 and 20.7 with gold 0.48, 0.56, 0.72, 0.93 and 0.96 (the reference: 0.38), so gold
rises over KL 0–10 and saturates beyond; doublings from 0.5 to 8 cover the rise."""
HEADLINE_LEVEL = 2.0
"""The level the rows are ranked at: the middle of that rise, past the first steps where every loss is
still linear in its margin."""


def _point(evaluation: Evaluation) -> tuple[float, torch.Tensor] | None:
    samples = evaluation.samples
    if evaluation.sequence_kl is None or samples is None or samples.rewards is None:
        return None
    return evaluation.sequence_kl.mean, per_prompt(samples.rewards, samples.prompt_ids)


def reference_gold(docs: Sequence[LMResult]) -> dict[int, torch.Tensor]:
    """Seed → the reference policy's per-prompt gold, shape (P,); empty on data without gold."""
    return {d.seed: per_prompt(d.eval.samples.rewards, d.eval.samples.prompt_ids)
            for d in docs if d.algorithm == REFERENCE and d.eval.samples and d.eval.samples.rewards is not None}


def frontier_points(docs: Sequence[LMResult]) -> dict[str, dict[int, list[tuple[float, torch.Tensor]]]]:
    """Algorithm → seed → its (KL, per-prompt gold) points with the reference's (KL 0) of that seed;
    algorithms without a KL estimate are left out."""
    references = reference_gold(docs)
    points: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for doc in docs:
        if doc.algorithm == REFERENCE or doc.eval.reward is not None or doc.seed not in references:
            continue
        for evaluation in [doc.eval, *(c.eval for c in doc.checkpoints or [])]:
            if (point := _point(evaluation)) is not None:
                points[doc.algorithm][doc.seed].append(point)
    for by_seed in points.values():
        for seed, own in by_seed.items():
            own.append((0.0, references[seed]))
    return {name: dict(by_seed) for name, by_seed in points.items()}


def at_level(by_seed: dict[int, list], level: float) -> dict[int, torch.Tensor] | None:
    """Seed → the frontier's per-prompt gold at ``level``; None unless every seed's frontier reaches it."""
    read = {seed: read_at(points, level) for seed, points in by_seed.items()}
    return None if any(v is None for v in read.values()) else read


def matched_kl_entries(docs: Sequence[LMResult]) -> tuple[list[dict], str]:
    """(entries, sentence): one entry per algorithm with a KL estimate, ranked at ``HEADLINE_LEVEL`` (those
    whose frontier does not reach it last, by name), each {"algorithm", "family", "seeds", "levels" (KL
    level → interval or None), "rank" ((best, worst) or None), "largest_kl", "vs_reference" (the paired
    difference to the reference at the headline level with its Holm-adjusted p, or None), "train_time_s"};
    the sentence is the global test at the headline level. Empty where no algorithm has a KL estimate."""
    points = frontier_points(docs)
    if not points:
        return [], ""
    readings = {name: {level: at_level(by_seed, level) for level in KL_LEVELS} for name, by_seed in points.items()}
    ranked = sorted((n for n in readings if readings[n][HEADLINE_LEVEL] is not None),
                    key=lambda n: -float(torch.stack(list(readings[n][HEADLINE_LEVEL].values())).mean()))
    bounds = dict(zip(ranked, rank_intervals([torch.stack(list(readings[n][HEADLINE_LEVEL].values()))
                                             for n in ranked]))) if ranked else {}
    references = reference_gold(docs)
    deltas = {n: paired_difference(readings[n][HEADLINE_LEVEL], references) for n in ranked}
    for name, adjusted in zip(ranked, holm([deltas[n]["p"] for n in ranked])):
        deltas[name]["p_holm"] = adjusted
    entries = []
    for name in ranked + sorted(set(readings) - set(ranked)):
        own = [d for d in docs if d.algorithm == name]
        times = [d.train.wall_time_s for d in own if d.train]
        entries.append({
            "algorithm": name, "family": own[0].family, "seeds": len(points[name]),
            "levels": {level: interval(torch.stack(list(r.values()))) if (r := readings[name][level]) else None
                       for level in KL_LEVELS},
            "rank": bounds.get(name), "vs_reference": deltas.get(name),
            "largest_kl": sum(max(kl for kl, _ in p) for p in points[name].values()) / len(points[name]),
            "train_time_s": sum(times) / len(times) if times else None})
    test = global_test_text({n: readings[n][HEADLINE_LEVEL] for n in ranked})
    sentence = f"At KL {HEADLINE_LEVEL:g}, all algorithms equal? {test}." if test else ""
    for entry in entries:
        entry["vectors"] = readings[entry["algorithm"]][HEADLINE_LEVEL]
    return entries, sentence


def power_rows(docs: Sequence[LMResult], entries: Sequence[dict]) -> list[dict]:
    """The ranking at the headline level as ``table_power.power_sentence`` reads a ranked table: the
    reference's per-prompt gold and each ranked row's frontier gold, seed → (P,); only the rows with the
    evidence's seeds where there are such rows, so that the power stated is the evidence's."""
    references = reference_gold(docs)
    ranked = [e for e in entries if e["rank"] is not None]
    rows = [e for e in ranked if e["seeds"] >= EVIDENCE_SEEDS] or ranked
    return [{"name": REFERENCE, "has_gold": True, "family": "reference", "vectors": {"gold_reward": references}},
            *({"name": e["algorithm"], "has_gold": True, "family": e["family"], "vectors": {"gold_reward": e["vectors"]}}
              for e in rows)]


def matched_kl_table(entries: Sequence[dict]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of ``matched_kl_entries``: gold at each KL level per algorithm, in rank order."""
    headers = [f"rank at KL {HEADLINE_LEVEL:g} [95%]", "algorithm", "seeds",
               *(f"gold at KL {level:g} [95% CI]" for level in KL_LEVELS),
               "largest KL reached (seed mean)"]
    rows = [[rank_text(e["rank"]), e["algorithm"], str(e["seeds"]),
             *(ci_text(e["levels"][level]) if e["levels"][level] else "not reached" for level in KL_LEVELS),
             f"{e['largest_kl']:.2f}"] for e in entries]
    return headers, rows


def matched_kl_rows(docs: Sequence[LMResult]) -> tuple[list[str], list[list[str]], str]:
    """(headers, rows, sentence): ``matched_kl_table`` of ``docs`` with its global test; empty where no
    algorithm has a KL estimate."""
    entries, sentence = matched_kl_entries(docs)
    return (*matched_kl_table(entries), sentence) if entries else ([], [], "")


CLAIM = ("dpo", "ppo")
"""Rafailov et al. 2023, Fig. 2: on controlled sentiment generation DPO's reward–KL frontier dominates PPO's."""
BESIDE = ("ipo", "grpo")


def claim_rows(docs: Sequence[LMResult]) -> tuple[list[str], list[list[str]], str]:
    """(headers, rows, verdict): per KL level, the frontiers of DPO, PPO and those ``BESIDE`` them, and the
    paired difference DPO − PPO with its Holm-adjusted p over the levels both reach; empty unless both
    have a KL estimate in this setting."""
    points = frontier_points(docs)
    if not all(name in points for name in CLAIM):
        return [], [], ""
    shown = [*CLAIM, *(n for n in BESIDE if n in points)]
    headers = ["KL", *(f"{n} gold [95% CI]" for n in shown), "Δ dpo − ppo [95% CI]", "p (Holm over levels)", "reading"]
    readings = {level: {n: at_level(points[n], level) for n in shown} for level in KL_LEVELS}
    both = [level for level in KL_LEVELS if all(readings[level][n] is not None for n in CLAIM)]
    deltas = {level: paired_difference(readings[level]["dpo"], readings[level]["ppo"]) for level in both}
    for level, adjusted in zip(both, holm([deltas[level]["p"] for level in both])):
        deltas[level]["p_holm"] = adjusted
    rows, verdicts = [], {}
    for level in KL_LEVELS:
        cells = [ci_text(interval(torch.stack(list(r.values())))) if (r := readings[level][n]) else "not reached"
                 for n in shown]
        d = deltas.get(level)
        if d is None:
            verdicts[level] = "not both reached"
        elif d["p_holm"] < 0.05 and not d["low"] <= 0 <= d["high"]:
            verdicts[level] = "DPO above PPO" if d["mean"] > 0 else "PPO above DPO"
        else:
            verdicts[level] = "indistinguishable"
        rows.append([f"{level:g}", *cells, delta_text(d), "—" if d is None else f"{d['p_holm']:.3g}", verdicts[level]])
    above = [f"{k:g}" for k, v in verdicts.items() if v == "DPO above PPO"]
    below = [f"{k:g}" for k, v in verdicts.items() if v == "PPO above DPO"]
    if not both:
        verdict = "The two frontiers share no KL level: the claim cannot be tested in this setting."
    elif above and not below and len(above) == len(both):
        verdict = f"The claim reproduces: DPO's frontier is above PPO's at every KL level both reach ({', '.join(above)})."
    elif below:
        verdict = (f"The claim does not reproduce: PPO's frontier is above DPO's at KL {', '.join(below)}"
                   + (f", DPO's above at KL {', '.join(above)}." if above else "."))
    else:
        verdict = ("Not reproduced at this power: " + (f"DPO's frontier is above PPO's at KL {', '.join(above)}; "
                                                       if above else "") +
                   "elsewhere the two are indistinguishable (each level's interval of Δ is in the table).")
    return headers, rows, verdict
