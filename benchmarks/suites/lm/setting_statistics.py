"""The costly statistics of an LM suite's settings, computed once per leaderboard render: the headline
and the section read the same ranked-table aggregate and matched-KL entries (each is seconds of
bootstraps over seeds and prompts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.matched_kl import matched_kl_entries
from prefzoo.benchmarks.suites.lm.table import aggregate


class SettingStatistics:
    """A memo of ``aggregate`` and ``matched_kl_entries`` keyed by the documents of a setting (algorithm,
    seed and hash of each), so that a setting shown twice is computed once."""

    def __init__(self) -> None:
        self._cache: dict[tuple, Any] = {}

    def _get(self, kind: str, group: Sequence[LMResult], compute: Callable[[Sequence[LMResult]], Any]) -> Any:
        key = (kind, tuple(sorted((d.algorithm, d.seed, d.hash) for d in group)))
        if key not in self._cache:
            self._cache[key] = compute(group)
        return self._cache[key]

    def aggregate(self, group: Sequence[LMResult]) -> list[dict]:
        """``table.aggregate`` of the setting's documents."""
        return self._get("aggregate", group, aggregate)

    def matched_kl(self, group: Sequence[LMResult]) -> tuple[list[dict], str]:
        """``matched_kl.matched_kl_entries`` of the setting's documents."""
        return self._get("matched_kl", group, matched_kl_entries)
