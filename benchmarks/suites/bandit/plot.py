"""The bandit suite's figure: key-arm probability against steps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefzoo.benchmarks.harness.results import save_figure_atomic
from prefzoo.benchmarks.harness.stats import mean_ci
from prefzoo.benchmarks.suites.bandit.documents import BanditResult, algorithm_of, by_config, strength_label
from prefzoo.benchmarks.suites.bandit.pairwise import DATASETS, fixed_point


def plot(docs: Sequence[BanditResult], path: Path) -> Path | None:
    """Key-arm probability against steps: a row per dataset, a column per algorithm, a line per
    strength (mean over seeds, shaded 95% CI); None without pairwise runs."""
    if not any(d.datasets for d in docs):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = by_config([d for d in docs if d.datasets])
    algorithms = sorted({name for name, _ in groups})
    fig, axes = plt.subplots(len(DATASETS), len(algorithms), figsize=(2.9 * len(algorithms), 2.3 * len(DATASETS)),
                             squeeze=False)  # shared limits set by hand: sharing 80 axes makes autoscaling slow
    for col, name in enumerate(algorithms):
        configs = [(key, g) for key, g in groups.items() if key[0] == name]
        for row, ds in enumerate(DATASETS):
            ax = axes[row][col]
            for i, (_, group) in enumerate(configs):
                steps = group[0].steps
                stats = [mean_ci([g.datasets[ds.name].curve[t][ds.key_arm] for g in group])
                         for t in range(len(steps))]
                mean = [m for m, _ in stats]
                ax.plot(steps, mean, color=f"C{i}", lw=1.3, label=strength_label(group[0]))
                ax.fill_between(steps, [m - h for m, h in stats], [m + h for m, h in stats],
                                color=f"C{i}", alpha=0.2, lw=0)
            for i, (_, group) in enumerate(configs):
                algorithm = algorithm_of(group[0])
                expected = fixed_point(algorithm, ds) if algorithm is not None else None
                if expected is not None:
                    ax.axhline(expected[ds.key_arm].item(), color=f"C{i}", ls=":", lw=1)
            ax.set_xscale("symlog", linthresh=10)
            ax.set_xlim(0, max(g[0].steps[-1] for _, g in configs))
            ax.set_ylim(-0.03, 1.03)
            ax.label_outer()
            if row == 0:
                ax.set_title(name, fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{ds.name}\nπ({ds.arms[ds.key_arm]})", fontsize=9)
            if row == len(DATASETS) - 1:
                ax.set_xlabel("step", fontsize=9)
            ax.tick_params(labelsize=7)
        axes[0][col].legend(fontsize=6, loc="best")
    fig.suptitle("Bandit suite: key-arm probability (mean, 95% CI over seeds; dotted: IPO's fixed point)",
                 fontsize=10)
    fig.tight_layout()
    return save_figure_atomic(fig, path, dpi=90)
