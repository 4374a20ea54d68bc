"""The bandit suite's figure: key-arm probability against steps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefzoo.benchmarks.harness.results import save_figure_atomic
from prefzoo.benchmarks.harness.stats import mean_ci
from prefzoo.benchmarks.suites.bandit.documents import BanditResult, algorithm_of, by_config, strength_label
from prefzoo.benchmarks.suites.bandit.pairwise import DATASETS, fixed_point


COLUMNS = 7
"""Algorithms per block of the figure."""


def plot(docs: Sequence[BanditResult], path: Path) -> Path | None:
    """Key-arm probability against steps: a column per algorithm (in blocks of ``COLUMNS``), a row per
    dataset, a line per strength (mean over seeds, shaded 95% CI), dotted the closed form where the
    algorithm declares one; None without pairwise runs."""
    if not any(d.datasets for d in docs):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = by_config([d for d in docs if d.datasets])
    algorithms = sorted({name for name, _ in groups})
    # algorithms wrap into blocks of COLUMNS, a block's rows the datasets: a single strip of 20 columns
    # shrinks every panel below legibility on a page
    blocks = [algorithms[i:i + COLUMNS] for i in range(0, len(algorithms), COLUMNS)]
    rows = len(DATASETS) * len(blocks)
    width = min(COLUMNS, len(algorithms))
    fig, axes = plt.subplots(rows, width, figsize=(2.6 * width, 1.9 * rows + 0.7),
                             squeeze=False)  # shared limits set by hand: sharing 80 axes makes autoscaling slow
    for ax in axes.flat:
        ax.set_visible(False)
    for index, name in enumerate(algorithms):
        block, col = divmod(index, COLUMNS)
        configs = [(key, g) for key, g in groups.items() if key[0] == name]
        for d, ds in enumerate(DATASETS):
            ax = axes[block * len(DATASETS) + d][col]
            ax.set_visible(True)
            for i, (_, group) in enumerate(configs):
                steps = group[0].steps
                stats = [mean_ci([g.datasets[ds.name].curve[t][ds.key_arm] for g in group])
                         for t in range(len(steps))]
                mean = [m for m, _ in stats]
                ax.plot(steps, mean, color=f"C{i}", lw=1.3)
                ax.fill_between(steps, [m - h for m, h in stats], [m + h for m, h in stats],
                                color=f"C{i}", alpha=0.2, lw=0)
                algorithm = algorithm_of(group[0])
                expected = fixed_point(algorithm, ds) if algorithm is not None else None
                if expected is not None:
                    ax.axhline(expected[ds.key_arm].item(), color=f"C{i}", ls=":", lw=1)
            ax.set_xscale("symlog", linthresh=10)
            ax.set_xlim(0, max(g[0].steps[-1] for _, g in configs))
            ax.set_ylim(-0.03, 1.03)
            ax.tick_params(labelsize=6)
            if d == 0:
                values = [strength_label(g[0]).split("=")[-1] for _, g in configs]
                field = strength_label(configs[0][1][0]).split("=")[0]
                ax.set_title(f"{name}\n{field} = {', '.join(values)}", fontsize=8)
            if col == 0:
                ax.set_ylabel(f"{ds.name}\nπ({ds.arms[ds.key_arm]})", fontsize=8)
            if d == len(DATASETS) - 1:
                ax.set_xlabel("step", fontsize=7)
    handles = [plt.Line2D([], [], color=f"C{i}", lw=1.3) for i in range(4)] + \
              [plt.Line2D([], [], color="grey", ls=":", lw=1)]
    fig.legend(handles, ["1st strength", "2nd", "3rd", "4th (each column's title lists them)",
                         "closed form (dotted)"], loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle("Bandit suite: key-arm probability along training (mean, 95% CI over seeds)", fontsize=10)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1 - 0.35 / fig.get_figheight()))
    return save_figure_atomic(fig, path, dpi=80)
