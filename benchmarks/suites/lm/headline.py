"""An LM suite's headline: its main setting's ranking in a few columns, for the top of the leaderboard;
the full table, the matched-KL tables and the other settings follow in the suite's section."""

from __future__ import annotations

from collections.abc import Sequence

from prefzoo.benchmarks.harness.tables import markdown_table
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.report import headline_columns, leaderboard_rows, setting_rows
from prefzoo.benchmarks.suites.lm.table import aggregate, setting_id, verdict

DROPPED = ("p vs reference (Holm)", "violation rate [95% CI]")
"""Headline columns the top of the page leaves to the section (the ▲/▼ mark carries the test)."""


def headline(docs: Sequence[LMResult]) -> str:
    """The suite's main setting (the first ``setting_rows`` gives) as a short ranked table: rank interval,
    algorithm with its mark, family, the ranking metric, Δ to the reference, how far from π_ref, training
    time; its verdict under it. The log-ratio column stays only where there is no KL estimate."""
    title, group = setting_rows(docs)[0]
    rows = aggregate(group)
    headers, cells = headline_columns(*leaderboard_rows(group, rows))
    drop = set(DROPPED) | ({"log π/π_ref (nats)"} if "KL(π‖π_ref) (nats) [95% CI]" in headers else set())
    keep = [i for i, h in enumerate(headers) if h not in drop]
    table = markdown_table([headers[i] for i in keep], [[row[i] for i in keep] for row in cells])
    suite = group[0].suite
    return "\n".join([f"### {suite}", "", f"<sub>{title.removeprefix(f'{suite} · ')}, setting "
                      f"`{setting_id(group[0])}`; its full table and every other setting: [{suite}](#{suite})</sub>",
                      "", table, "", verdict(rows), ""])
