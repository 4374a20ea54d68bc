"""The text of every table on the leaderboard: Markdown tables, and intervals and differences as cells."""

from __future__ import annotations

from collections.abc import Sequence


def code_list(names: Sequence[str]) -> str:
    """Names as inline code, comma-separated: "`dpo`, `ipo`"."""
    return ", ".join(f"`{n}`" for n in names)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def ci_text(value: dict | None, digits: int = 3) -> str:
    """``mean [low, high]`` of an interval ``{"mean", "low", "high"}``; "—" for none."""
    if value is None:
        return "—"
    return f"{value['mean']:.{digits}f} [{value['low']:.{digits}f}, {value['high']:.{digits}f}]"


def delta_text(value: dict | None) -> str:
    """A signed difference with its interval, ``+0.012 [-0.003, +0.027]``; "—" for none."""
    return "—" if value is None else f"{value['mean']:+.3f} [{value['low']:+.3f}, {value['high']:+.3f}]"


def rank_text(bounds: tuple[int, int] | None) -> str:
    """A rank interval as the tables print it: "3", "1–4", or "—" for a row that is not ranked."""
    if bounds is None:
        return "—"
    low, high = bounds
    return str(low) if low == high else f"{low}–{high}"
