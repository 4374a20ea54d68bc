"""The bandit suite as the harness and the leaderboard see it: runs, result files, tables, plot."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefzoo import __version__
from prefzoo.algorithms.base import Family, Pairwise
from prefzoo.algorithms.config import AlgorithmConfig
from prefzoo.benchmarks.bandit import DATASETS, SUITE, BanditSettings, ipo_fixed_point, run_bandit
from prefzoo.benchmarks.results import result_path, run_hash, save_figure_atomic, write_json_atomic
from prefzoo.benchmarks.stats import mean_ci
from prefzoo.leaderboard.render import markdown_table

DATASET_BY_NAME = {d.name: d for d in DATASETS}


class BanditSuite:
    """Azar et al. 2023 §5.4 and the IPO closed form, for every registered pairwise algorithm."""

    name = SUITE
    family = Family.PAIRWISE

    def run(self, algorithms: Sequence[type[Pairwise]], results_root: Path, *, seeds: int | None = None,
            steps: int | None = None, strengths: Sequence[float] | None = None,
            base_configs: dict[str, AlgorithmConfig] | None = None,
            progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
        """Train, write one result file per (algorithm, config, seed), and return the documents."""
        settings = BanditSettings()
        changes = {k: v for k, v in dict(seeds=seeds, steps=steps,
                                          strengths=tuple(strengths) if strengths else None).items() if v}
        settings = BanditSettings(**{**settings.__dict__, **changes})
        for cls in algorithms:
            if not issubclass(cls, Pairwise):
                raise ValueError(f"the bandit suite trains pairwise algorithms; {cls.name!r} is {cls.family}")
        start = time.perf_counter()
        runs = run_bandit(algorithms, settings, progress=progress, base_configs=base_configs)
        wall = time.perf_counter() - start
        from prefzoo.registry import ALGORITHMS

        docs = []
        for run in runs:
            cls, config = run.algorithm, run.config
            digest = run_hash(config.to_dict(), settings.to_dict())
            field = cls.Config.strength
            for seed in range(settings.seeds):
                doc = {
                    "suite": SUITE, "algorithm": cls.name, "family": str(cls.family), "paper": cls.paper,
                    "origin": ALGORITHMS.origin(cls.name) if cls.name in ALGORITHMS else cls.__module__,
                    "seed": seed, "hash": digest, "config": config.to_dict(),
                    "strength": {"field": field, "value": getattr(config, field)} if field else None,
                    "settings": settings.to_dict(), "vectorised": run.vectorised,
                    "suite_wall_time_s": round(wall, 2), "prefzoo_version": __version__,
                    "steps": run.steps,
                    "datasets": {
                        ds.name: {
                            "arms": list(ds.arms),
                            "final": _rounded(run.final()[d, seed, :len(ds.arms)].tolist()),
                            "curve": [_rounded(p[d, seed, :len(ds.arms)].tolist()) for p in run.curves],
                        } for d, ds in enumerate(DATASETS)},
                }
                write_json_atomic(result_path(results_root, SUITE, cls.name, seed, digest), doc)
                docs.append(doc)
        return docs

    # ------------------------------------------------------------------ tables
    def table(self, docs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
        """One row per (algorithm, config): final key-arm probabilities, mean ± 95% CI over seeds."""
        headers = ["algorithm", "strength", "steps", "seeds"]
        for ds in DATASETS:
            headers += [f"{ds.name} π({arm})" for arm in _shown_arms(ds)]
        rows = []
        for (name, _), group in _by_config(docs).items():
            first = group[0]
            row = [name, _strength_label(first), f"{first['settings']['steps']:,}", str(len(group))]
            for ds in DATASETS:
                for arm in _shown_arms(ds):
                    row.append(_fmt_ci([g["datasets"][ds.name]["final"][ds.arms.index(arm)] for g in group]))
            rows.append(row)
        return headers, rows

    def ipo_table(self, docs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
        """IPO's measured key-arm probability against the minimiser of its population loss."""
        headers = ["τ", "dataset", "arm", "closed form", "measured (mean ± 95% CI)", "|error|"]
        rows = []
        for (name, _), group in _by_config(docs).items():
            if name != "ipo" or group[0]["config"].get("tau") is None:
                continue
            tau = group[0]["config"]["tau"]
            for ds in DATASETS:
                expected = ipo_fixed_point(ds, tau)[ds.key_arm].item()
                values = [g["datasets"][ds.name]["final"][ds.key_arm] for g in group]
                mean, _ = mean_ci(values)
                rows.append([f"{tau:g}", ds.name, ds.arms[ds.key_arm], f"{expected:.4f}", _fmt_ci(values),
                             f"{abs(mean - expected):.1e}"])
        return headers, rows

    # ------------------------------------------------------------------ plot
    def plot(self, docs: Sequence[dict[str, Any]], path: Path) -> Path:
        """Key-arm probability against steps: a row per dataset, a column per algorithm, a line per
        strength (mean over seeds, shaded 95% CI)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        groups = _by_config(docs)
        algorithms = sorted({name for name, _ in groups})
        fig, axes = plt.subplots(len(DATASETS), len(algorithms), figsize=(2.9 * len(algorithms), 2.3 * len(DATASETS)),
                                 sharex=True, sharey=True, squeeze=False)
        for col, name in enumerate(algorithms):
            configs = [(key, g) for key, g in groups.items() if key[0] == name]
            for row, ds in enumerate(DATASETS):
                ax = axes[row][col]
                for i, (_, group) in enumerate(configs):
                    steps = group[0]["steps"]
                    stats = [mean_ci([g["datasets"][ds.name]["curve"][t][ds.key_arm] for g in group])
                             for t in range(len(steps))]
                    mean = [m for m, _ in stats]
                    ax.plot(steps, mean, color=f"C{i}", lw=1.3, label=_strength_label(group[0]))
                    ax.fill_between(steps, [m - h for m, h in stats], [m + h for m, h in stats],
                                    color=f"C{i}", alpha=0.2, lw=0)
                if name == "ipo":
                    for i, (_, group) in enumerate(configs):
                        tau = group[0]["config"]["tau"]
                        ax.axhline(ipo_fixed_point(ds, tau)[ds.key_arm].item(), color=f"C{i}", ls=":", lw=1)
                ax.set_xscale("symlog", linthresh=10)
                ax.set_ylim(-0.03, 1.03)
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

    # ------------------------------------------------------------------ leaderboard
    def section(self, docs: Sequence[dict[str, Any]], out_dir: Path) -> str:
        """The suite's leaderboard section (Markdown); writes its plot into ``out_dir``."""
        plot = self.plot(docs, Path(out_dir) / "bandit.png")
        s = docs[0]["settings"]
        walls = sorted({d["suite_wall_time_s"] for d in docs})
        lines = [
            "## Bandit suite",
            "",
            f"Softmax policy over K arms, π_ref uniform, θ = 0 at the start; Adam lr {s['lr']}, {s['steps']:,} steps, "
            f"mini-batches of {s['batch_size']} pairs drawn with replacement, {s['seeds']} seeds (Azar et al. 2023, §5.4). "
            "Every algorithm is trained with its own `loss`, at each value of its strength field. "
            f"Training time of the whole suite: {', '.join(f'{w:.1f} s' for w in walls)}.",
            "",
            "Datasets: " + "; ".join(f"**{d.name}** — {d.description}" for d in DATASETS) + ".",
            "",
            "Final probabilities, mean ± 95% CI (Student t) over seeds:",
            "",
            markdown_table(*self.table(docs)),
            "",
        ]
        ipo = self.ipo_table(docs)
        if ipo[1]:
            lines += ["IPO against the minimiser of its population loss (least squares on h = 1/(2τ)):", "",
                      markdown_table(*ipo), ""]
        lines += [f"![bandit learning curves]({plot.name})", ""]
        return "\n".join(lines)


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(v, 6) for v in values]


def _shown_arms(ds) -> list[str]:
    return list(ds.arms) if ds.name == "D1" else [ds.arms[ds.key_arm]]


def _by_config(docs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for doc in sorted(docs, key=lambda d: (d["algorithm"], _strength_value(d), d["hash"], d["seed"])):
        groups[(doc["algorithm"], doc["hash"])].append(doc)
    return dict(groups)


def _strength_value(doc: dict[str, Any]) -> float:
    return doc["strength"]["value"] if doc["strength"] else 0.0


def _strength_label(doc: dict[str, Any]) -> str:
    greek = {"beta": "β", "tau": "τ"}
    st = doc["strength"]
    return f"{greek.get(st['field'], st['field'])}={st['value']:g}" if st else "default"


def _fmt_ci(values: Sequence[float]) -> str:
    mean, half = mean_ci(values)
    return f"{mean:.4f} ± {half:.4f}"
