"""The sentence under an LM suite's ranked table that says how much the table can see: the smallest
difference from the reference it detects, what a ``TARGET`` difference would cost in seeds or prompts,
and the global test that every algorithm is equal (``harness.power``)."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from typing import Any

import torch

from prefzoo.benchmarks.harness.power import TARGET, VarianceComponents, global_test, variance_components
from prefzoo.benchmarks.harness.tables import code_list
from prefzoo.benchmarks.suites.lm.table import EVIDENCE_SEEDS, REFERENCE, ranking_metric


def _difference(row: dict[int, torch.Tensor], reference: dict[int, torch.Tensor]) -> torch.Tensor:
    """Row − reference per seed both have (S × P); against the reference's seed mean where none is shared."""
    shared = sorted(set(row) & set(reference))
    if shared:
        return torch.stack([row[s] - reference[s] for s in shared])
    mean = torch.stack(list(reference.values())).mean(0)
    return torch.stack([row[s] - mean for s in sorted(row)])


def _median_and_range(components: list[VarianceComponents], noun: tuple[str, str]) -> tuple[VarianceComponents, str]:
    """The median comparison's components, and "median (low–high over n nouns)" of the detectable
    differences."""
    ordered = sorted(components, key=lambda c: c.detectable())
    values = [c.detectable() for c in ordered]
    return (ordered[(len(ordered) - 1) // 2],
            f"{statistics.median(values):.3f} (median; {values[0]:.3f}–{values[-1]:.3f} over {len(values)} "
            f"{noun[len(values) > 1]})")


def global_test_text(vectors: dict[str, dict[int, torch.Tensor]]) -> str | None:
    """"F(a, b) = x, permutation p = y" of the test that every named row (name → seed → (P,)) has the same
    mean, on the rows with the evidence's seeds, naming the rows left out; None where it is not testable
    (two such rows are needed). A p at the permutation floor is printed as a bound."""
    # one row still at its first seed would cut every row to that seed
    full = {name: v for name, v in vectors.items() if len(v) >= EVIDENCE_SEEDS}
    test = global_test(list(full.values())) if len(full) > 1 else None
    if test is None:
        return None
    p = (f"≤ {test.p:.2g} (no permutation reached it)" if test.p <= 1 / (test.resamples + 1) + 1e-12
         else f"= {test.p:.3g}")
    left = [name for name in vectors if name not in full]
    return (f"F({test.df_rows}, {test.df_error}) = {test.statistic:.3g}, permutation p {p}"
            + (f" (rows with fewer than {EVIDENCE_SEEDS} seeds left out: {code_list(left)})" if left else ""))


def _global(rows: Sequence[dict[str, Any]], metric: str) -> str:
    return (global_test_text({r["name"]: r["vectors"][metric] for r in rows})
            or "not testable (it needs two rows, and two seeds that every row has)")


def power_sentence(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: the power of a ranked table (``table.aggregate``'s rows), or "" where it compared no row
    with the reference."""
    if not rows:
        return ""
    metric = ranking_metric(rows[0])
    reference = next((r for r in rows if r["name"] == REFERENCE and metric in r["vectors"]), None)
    others = [r for r in rows if r is not reference and metric in r["vectors"]]
    if reference is None or not others:
        return ""
    vs_reference = [variance_components(_difference(r["vectors"][metric], reference["vectors"][metric]))
                    for r in others]
    between = [variance_components(_difference(a["vectors"][metric], b["vectors"][metric]))
               for a, b in itertools.combinations(others, 2)]
    first, reference_text = _median_and_range(vs_reference, ("row", "rows"))
    unit = "gold" if metric == "gold_reward" else "pair accuracy"
    text = (f"**Power.** At {first.seeds} seed{'s' if first.seeds > 1 else ''} × {first.prompts} held-out "
            f"{'prompts' if metric == 'gold_reward' else 'pairs'}, with 80% power at two-sided α = 0.05 (before "
            f"Holm), this table detects a difference in {unit} from the reference of {reference_text}")
    median = first
    if between:
        median, between_text = _median_and_range(between, ("pair of rows", "pairs of rows"))
        text += f" and between two rows of {between_text}"
    text += ", from each comparison's observed paired variance."
    if median.seed_estimated:
        seeds, prompts = median.seeds_for(TARGET), median.prompts_for(TARGET)
        text += (f" A difference of {TARGET} {'between two rows' if between else 'from the reference'} would "
                 "need " + (f"{seeds} seeds at {median.prompts} prompts" if seeds else
                            f"more than 1,000 seeds at {median.prompts} prompts")
                 + (f", or {prompts:,} prompts at {median.seeds} seeds" if prompts else
                    f"; no number of prompts reaches it at {median.seeds} seeds, the seed-to-seed variance "
                    "alone being too large") + " (the median comparison's variance components).")
    else:
        text += (" With one seed the seed-to-seed variance is unseen: these understate what the table cannot "
                 "see.")
    text += (" All algorithms equal? (rows × seeds on the seeds every row has, so that a row's mean must stand out "
             f"from its seed-to-seed variation): {_global(others, metric)}")
    families = sorted({r["family"] for r in others})
    if len(families) > 1:
        text += "; within a family: " + "; ".join(
            f"{family} {_global(members, metric)}" for family in families
            if len(members := [r for r in others if r["family"] == family]) > 1)
    return text + "."
