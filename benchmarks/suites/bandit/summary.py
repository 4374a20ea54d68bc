"""The bandit section's compact reading of the pairwise part: one row per algorithm (and dataset) over
the strengths it ran at, instead of one row per (algorithm, strength) — the full table of final
probabilities goes to a page of its own.

What the two tables show (Azar et al. 2023, §5.4): with deterministic preferences, the Bradley–Terry
losses (DPO and its kin) push the preferred arm's probability to 1 at every strength, so their KL
regulariser is not felt, while IPO (and losses with a closed form) stop at a fixed point set by their
strength; on D3-text, where c never wins and (a, c) is never compared, a loss that ignores its
regulariser drives c to 0 although no pair says a ≻ c."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from prefzoo.benchmarks.harness.stats import mean_ci
from prefzoo.benchmarks.suites.bandit.documents import BanditResult, algorithm_of, by_config, strength_label
from prefzoo.benchmarks.suites.bandit.pairwise import DATASETS, fixed_point

SHOWN = (("two-arm", "y1"), ("D1", "a"), ("D3-printed", "c"), ("D3-text", "c"))
"""The arm of each dataset the compact table reads: its key arm (D1's, the top of the total order)."""
FLAT = 1e-3
"""A range of seed means narrower than this reads as one value: the strength did not move it."""


def _span(values: Sequence[float], digits: int = 3) -> str:
    low, high = min(values), max(values)
    return f"{low:.{digits}f}" if high - low < FLAT else f"{low:.{digits}f} – {high:.{digits}f}"


def _strengths(groups: Sequence[list[BanditResult]]) -> str:
    labels = [strength_label(g[0]) for g in groups]
    return labels[0] if len(labels) == 1 else f"{labels[0]} … {labels[-1].split('=')[-1]} ({len(labels)} values)"


def _by_algorithm(docs: Sequence[BanditResult]) -> dict[str, list[list[BanditResult]]]:
    """Algorithm → the seed groups of each of its configs, by increasing strength."""
    out: dict[str, list[list[BanditResult]]] = defaultdict(list)
    for (name, _), group in by_config([d for d in docs if d.datasets]).items():
        out[name].append(group)
    return dict(out)


def strength_table(docs: Sequence[BanditResult]) -> tuple[list[str], list[list[str]]]:
    """Per pairwise algorithm: the seed-mean final probability of each dataset's key arm, as the range
    over the strengths it ran at, and what that range says."""
    headers = ["algorithm", "strengths", *(f"{ds} π({arm})" for ds, arm in SHOWN), "reading"]
    index = {ds.name: ds for ds in DATASETS}
    rows = []
    for name, groups in _by_algorithm(docs).items():
        means = {ds: [mean_ci([g.datasets[ds].final[index[ds].arms.index(arm)] for g in group])[0]
                      for group in groups] for ds, arm in SHOWN}
        two_arm = means["two-arm"]
        if max(two_arm) < 0.5:
            reading = "π(y1) falls below ½: the preferred arm loses"
        elif min(two_arm) > 1 - FLAT:
            reading = "π(y1) → 1 at every strength: the regulariser is not felt"
        elif max(two_arm) - min(two_arm) < FLAT:
            reading = "π(y1) stops short of 1, whatever the strength"
        else:
            reading = "its strength sets where π(y1) stops"
        zero = [strength_label(g[0]) for g, m in zip(groups, means["D3-text"]) if m < FLAT]
        if zero:
            reading += "; D3-text's c driven to 0 " + ("at every strength" if len(zero) == len(groups)
                                                       else "at " + ", ".join(zero))
        rows.append([name, _strengths(groups), *(_span(means[ds]) for ds, _ in SHOWN), reading])
    return headers, rows


def closed_form_summary(docs: Sequence[BanditResult]) -> tuple[list[str], list[list[str]]]:
    """Per algorithm that declares a closed form and per dataset: the closed form's and the measured
    key-arm probability over its strengths, and the largest error between them."""
    headers = ["algorithm", "dataset", "arm", "strengths", "closed form", "measured (seed mean)", "largest |error|"]
    rows = []
    for name, groups in _by_algorithm(docs).items():
        algorithms = [algorithm_of(g[0]) for g in groups]
        for ds in DATASETS:
            pairs = []
            for algorithm, group in zip(algorithms, groups):
                expected = fixed_point(algorithm, ds) if algorithm is not None else None
                if expected is not None:
                    measured = mean_ci([g.datasets[ds.name].final[ds.key_arm] for g in group])[0]
                    pairs.append((expected[ds.key_arm].item(), measured))
            if pairs:
                rows.append([name, ds.name, ds.arms[ds.key_arm], _strengths(groups), _span([p[0] for p in pairs], 4),
                             _span([p[1] for p in pairs], 4), f"{max(abs(a - b) for a, b in pairs):.1e}"])
    return headers, rows
