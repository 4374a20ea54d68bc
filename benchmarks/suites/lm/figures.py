"""The figures of an LM suite's setting: gold reward against KL per row, each algorithm's reward–KL
frontier, and the RL runs' overoptimisation curves (Gao, Schulman & Hilton 2022), as pure functions of
the result documents."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from prefzoo.benchmarks.harness.paired_stats import interval
from prefzoo.benchmarks.harness.results import save_figure_atomic
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.matched_kl import at_level, frontier_points
from prefzoo.benchmarks.suites.lm.table import aggregate


def fit_overoptimisation(sqrt_kl: Sequence[float], reward: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares (α, β) of Gao, Schulman & Hilton 2022's RL form R(d) = d(α − β log d), d = √KL,
    fitted as R/d = α − β log d on the points with d > 0 (None with fewer than two)."""
    import torch

    points = [(d, r) for d, r in zip(sqrt_kl, reward) if d > 1e-6]
    if len(points) < 2:
        return None
    d = torch.tensor([x for x, _ in points], dtype=torch.float64)
    y = torch.tensor([r for _, r in points], dtype=torch.float64) / d
    design = torch.stack([torch.ones_like(d), -torch.log(d)], 1)
    alpha, beta = torch.linalg.lstsq(design, y[:, None]).solution[:, 0].tolist()
    return alpha, beta


def overoptimisation_plot(docs: Sequence[LMResult], path: Path) -> Path | None:
    """Per RL run: gold and proxy (reward-model) reward of the rollouts against √KL(π‖π_ref) over
    training, with the fitted R(d) = d(α − β log d) of each; None without RL runs."""
    runs = [d for d in docs if d.train and d.train.curve]
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    # a grid, an algorithm per row and a seed per column, so that each panel stays legible however many runs
    seeds = sorted({d.seed for d in runs})
    names = sorted({d.row_name for d in runs})
    fig, axes = plt.subplots(len(names), len(seeds), figsize=(3.6 * len(seeds), 2.7 * len(names) + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for doc in runs:
        ax = axes[names.index(doc.row_name)][seeds.index(doc.seed)]
        ax.set_visible(True)
        curve = doc.train.curve
        d = [p.sqrt_kl for p in curve]
        fits = []
        for key, colour, label in (("gold_reward", "C0", "gold"), ("proxy_score", "C1", "proxy (reward model)")):
            r = [getattr(p, key) for p in curve]
            gains = [x - r[0] for x in r]  # Gao et al. fit the gain over the initial policy
            ax.plot(d, gains, "o", color=colour, label=label, ms=3, alpha=0.8)  # no line: KL is not monotone in time
            fit = fit_overoptimisation(d, gains)
            if fit is not None:
                grid = np.linspace(max(min(x for x in d if x > 0), 1e-3), max(d), 50)
                ax.plot(grid, grid * (fit[0] - fit[1] * np.log(grid)), "--", color=colour, lw=0.8,
                        label=f"{label.split()[0]} fit R(d) = d(α − β log d)")
                fits.append(f"{label.split()[0]} α={fit[0]:.2f} β={fit[1]:.2f}")
        ax.set_title(f"{doc.row_name} · seed {doc.seed}\n{'; '.join(fits)}", fontsize=8)
        ax.set_xlabel("√KL(π ‖ π_ref)", fontsize=8)
        ax.set_ylabel("gain over iteration 1", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    handles, labels = next(ax for ax in axes.flat if ax.get_visible()).get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.6 / fig.get_figheight(), 1, 1))
    return save_figure_atomic(fig, path, dpi=80)


def reward_kl_plot(docs: Sequence[LMResult], path: Path) -> Path:
    """Gold reward against KL(π‖π_ref), with 95% intervals and the upper-left frontier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in aggregate(docs) if r["gold_reward"] is not None]
    exact = all(r.get("sequence_kl") for r in rows)  # the KL itself where every row has it
    fig, ax = plt.subplots(figsize=(8.4 if len(rows) > 14 else 7.4, 4.4))
    points = []
    for i, r in enumerate(rows):
        kl = r["sequence_kl" if exact else "kl"] or {"mean": 0.0, "low": 0.0, "high": 0.0}
        g = r["gold_reward"]
        ax.errorbar(kl["mean"], g["mean"], xerr=[[kl["mean"] - kl["low"]], [kl["high"] - kl["mean"]]],
                    yerr=[[g["mean"] - g["low"]], [g["high"] - g["mean"]]], fmt="osD^v<>"[i // 10 % 7], color=f"C{i % 10}",
                    capsize=3, label=r["algorithm"])
        points.append((kl["mean"], g["mean"]))
    frontier, best = [], float("-inf")
    for x, y in sorted(points):
        if y > best:
            frontier.append((x, y))
            best = y
    if len(frontier) > 1:
        ax.step([x for x, _ in frontier], [y for _, y in frontier], where="post", color="grey", ls="--", lw=1,
                label="frontier")
    ax.set_xlabel("KL(π‖π_ref), nats per response" if exact
                  else "log π/π_ref on the policy's samples, nats per response")
    ax.set_ylabel("gold reward")
    if rows:  # outside the axes: never over a point
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), ncol=2 if len(rows) > 14 else 1,
                  frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure_atomic(fig, path, dpi=100)


def frontier_plot(docs: Sequence[LMResult], path: Path, grid_points: int = 25) -> Path | None:
    """Per family, each algorithm's reward–KL frontier (``matched_kl``): the mean over seeds of its frontier
    on a grid of KL up to where every seed's reaches, with the 95% interval (seeds and prompts resampled);
    None where no algorithm has a KL estimate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = frontier_points(docs)
    if not points:
        return None
    family = {d.algorithm: d.family for d in docs}
    families = sorted({family[n] for n in points})
    fig, axes = plt.subplots(1, len(families), figsize=(6.2 * len(families), 3.8), squeeze=False)
    for ax, name_of_family in zip(axes[0], families):
        for i, name in enumerate(sorted(n for n in points if family[n] == name_of_family)):
            reach = min(max(kl for kl, _ in p) for p in points[name].values())
            # the last point is the reach itself: reach·k/k can round past it, where no frontier is read
            grid = [reach * k / (grid_points - 1) for k in range(grid_points - 1)] + [reach]
            stats = [interval(torch.stack(list(at_level(points[name], kl).values()))) for kl in grid]
            ax.plot(grid, [s["mean"] for s in stats], color=f"C{i % 10}", lw=1.4, label=name)
            ax.fill_between(grid, [s["low"] for s in stats], [s["high"] for s in stats], color=f"C{i % 10}",
                            alpha=0.15, lw=0)
        ax.set_title(name_of_family, fontsize=9)
        ax.set_xlabel("KL(π‖π_ref), nats per response")
        ax.set_ylabel("best gold reward at this KL or below")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # outside the data
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure_atomic(fig, path, dpi=100)
