"""Reading the bandit suite's result documents: grouped by config, a config's strength label, the
algorithm a document ran, a mean with its interval across seeds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from prefzoo.benchmarks.harness.stats import mean_ci


def shown_arms(ds) -> list[str]:
    return list(ds.arms) if ds.show_all_arms else [ds.arms[ds.key_arm]]


def algorithm_of(doc: dict[str, Any]):
    """The algorithm a result document ran, rebuilt from its config; None if it is no longer registered."""
    from prefzoo.registry import ALGORITHMS, RegistryError

    try:
        cls = ALGORITHMS.get(doc["algorithm"])
        return cls(cls.Config.from_dict(doc["config"]))
    except (RegistryError, ValueError):
        return None


def by_config(docs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(algorithm, config hash) → its documents (one per seed), ordered by algorithm and strength."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for doc in sorted(docs, key=lambda d: (d["algorithm"], _strength_value(d), d["hash"], d["seed"])):
        groups[(doc["algorithm"], doc["hash"])].append(doc)
    return dict(groups)


def _strength_value(doc: dict[str, Any]) -> float:
    return doc["strength"]["value"] if doc["strength"] else 0.0


def strength_label(doc: dict[str, Any]) -> str:
    greek = {"beta": "β", "tau": "τ"}
    st = doc["strength"]
    return f"{greek.get(st['field'], st['field'])}={st['value']:g}" if st else "default"


def fmt_ci(values: Sequence[float], digits: int = 4) -> str:
    mean, half = mean_ci(values)
    if len(values) == 1:  # one seed has no interval across seeds; "± 0" would claim one
        return f"{mean:.{digits}f} (1 seed)"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"
