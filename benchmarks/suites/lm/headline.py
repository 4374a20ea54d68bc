"""An LM suite's headline: its main setting's ranking in a few columns, for the top of the leaderboard —
at matched KL where the setting has KL estimates (the frontier protocol), else the ranked table of the
final policies; the full tables and the other settings follow in the suite's section."""

from __future__ import annotations

from collections.abc import Sequence

from mdit_py_plugins.anchors.index import slugify

from prefzoo.benchmarks.harness.tables import ci_text, code_list, delta_text, markdown_table, rank_text
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.matched_kl import HEADLINE_LEVEL
from prefzoo.benchmarks.suites.lm.report import headline_columns, leaderboard_rows, setting_rows
from prefzoo.benchmarks.suites.lm.section import missing_algorithms
from prefzoo.benchmarks.suites.lm.setting_statistics import SettingStatistics
from prefzoo.benchmarks.suites.lm.table import (ALPHA, EVIDENCE_SEEDS, REFERENCE, beats_reference, setting_id,
                                               verdict)

DROPPED = ("p vs reference (Holm)", "violation rate [95% CI]")
"""Headline columns the top of the page leaves to the section (the ▲/▼ mark carries the test)."""

BESIDE_LEVELS = (1.0, 4.0)
"""KL levels shown beside the headline one, so a reader sees whether an order holds along the frontier."""


def headline(docs: Sequence[LMResult], suite, statistics: SettingStatistics) -> str:
    """The suite's main setting (the first ``setting_rows`` gives) as a short ranked table with its
    verdict: at matched KL where its rows have KL estimates, else at the end of the budget. Its link
    is the section's GitHub anchor (the page gives headings the same ones)."""
    title, group = setting_rows(docs)[0]
    name = docs[0].suite
    entries, test = statistics.matched_kl(group)
    if entries:
        table, sentence = _matched_kl(entries, test)
        what = f"gold at matched KL(π‖π_ref), ranked at KL {HEADLINE_LEVEL:g} nats"
    else:
        rows = statistics.aggregate(group)
        table, sentence = _final_policies(group, rows)
        sentence += _fixed_budget_caveat(rows, name)
        what = "the policies at the end of the budget"
    missing = missing_algorithms(group, suite)
    partial = (f" Not yet run at this setting: {len(missing)} algorithm{'s' if len(missing) > 1 else ''}, named in "
               "its section with every other setting they ran in." if missing else "")
    return "\n".join([f"### {name}", "", f"<sub>{title.removeprefix(f'{name} · ')}: {what}; setting "
                      f"`{setting_id(group[0])}`; its full tables: [{title}](#{slugify(title)}), then every "
                      "other setting</sub>", "", table, "", sentence + partial, ""])


def _final_policies(group: Sequence[LMResult], rows: list[dict]) -> tuple[str, str]:
    """The ranked table's headline columns: rank interval, algorithm with its mark, family, the ranking
    metric, Δ to the reference, how far from π_ref, training time. The log-ratio column stays only where
    there is no KL estimate."""
    headers, cells = headline_columns(*leaderboard_rows(group, rows))
    drop = set(DROPPED) | ({"log π/π_ref (nats)"} if "KL(π‖π_ref) (nats) [95% CI]" in headers else set())
    keep = [i for i, h in enumerate(headers) if h not in drop]
    return markdown_table([headers[i] for i in keep], [[row[i] for i in keep] for row in cells]), verdict(rows)


def _fixed_budget_caveat(rows: list[dict], suite: str) -> str:
    """Why an order at a fixed budget is not a matched-KL ranking, with the spread of distances that
    makes it so; "" where the rows carry no log-ratio."""
    distances = [r["kl"]["mean"] for r in rows if r["name"] != REFERENCE and r.get("kl")]
    if len(distances) < 2:
        return ""
    return (f" Fixed budget, not matched KL: the rows end between {min(distances):.2f} and {max(distances):.2f} "
            "nats of log π/π_ref, and a policy further from π_ref can gain gold by that distance alone, so this "
            "order mixes what a loss reaches with how far it moved in the budget; `prefzoo bench --suite "
            f"{suite} --profile quick` runs the matched-KL protocol.")


def _matched_kl(entries: list[dict], test: str) -> tuple[str, str]:
    """The matched-KL ranking in nine columns, and what it says: which rows beat the reference at the
    headline level, which are told apart from each other, and the global test."""
    level = f"{HEADLINE_LEVEL:g}"
    headers = [f"rank at KL {level} [95%]", "algorithm", "family", f"gold at KL {level} [95% CI]",
               f"Δ gold at KL {level} vs reference [95% CI]",
               *(f"gold at KL {k:g}" for k in BESIDE_LEVELS), "seeds", "train time (s)"]
    rows = []
    for e in entries:
        mark = {True: " ▲", False: " ▼", None: ""}[beats_reference(e)]
        rows.append([rank_text(e["rank"]), e["algorithm"] + mark, e["family"],
                     ci_text(e["levels"][HEADLINE_LEVEL]) if e["levels"][HEADLINE_LEVEL] else "not reached",
                     delta_text(e["vs_reference"]),
                     *(f"{e['levels'][k]['mean']:.3f}" if e["levels"][k] else "not reached" for k in BESIDE_LEVELS),
                     str(e["seeds"]), "—" if e["train_time_s"] is None else f"{e['train_time_s']:,.0f}"])
    return markdown_table(headers, rows), _matched_kl_verdict(entries, test)


def _matched_kl_verdict(entries: list[dict], test: str) -> str:
    few = [e["algorithm"] for e in entries if e["seeds"] < EVIDENCE_SEEDS]
    ranked = [e for e in entries if e["rank"] is not None]
    above = [e["algorithm"] for e in ranked if beats_reference(e) is True]
    unreached = [e["algorithm"] for e in entries if e["rank"] is None]
    parts = []
    if few:
        parts.append(f"{code_list(few)} ran fewer than {EVIDENCE_SEEDS} seeds: not evidence.")
    parts.append(f"At KL {HEADLINE_LEVEL:g} nats, paired with the reference on the same prompts (Holm-adjusted "
                 f"p < {ALPHA}): {code_list(above) + ' beat it' if above else 'no row beats it'}.")
    if ranked:
        top = ranked[0]
        apart = [e["algorithm"] for e in ranked[1:] if e["rank"][0] > top["rank"][1]]
        parts.append(f"Rank intervals that overlap the top row's ({top['algorithm']}): "
                     f"{code_list([e['algorithm'] for e in ranked[1:] if e['algorithm'] not in apart]) or 'none'}"
                     f"; below it: {code_list(apart) or 'none'}.")
    if test:
        parts.append(test)
    if unreached:
        parts.append(f"Not reaching KL {HEADLINE_LEVEL:g} on every seed: {code_list(unreached)}.")
    return " ".join(parts)
