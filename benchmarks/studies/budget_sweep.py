"""The shared-budget sweep: DPO at each (learning rate, steps) of a grid, 3 seeds each, on the quick
profile of smol-sentiment, compared with the reference on the same prompts and seeds. It chooses the
one budget every algorithm of the committed leaderboard shares; no algorithm is tuned on its own.

    python -m prefzoo.benchmarks.studies.budget_sweep [--learning-rates 1e-4,3e-4,1e-3] [--steps 12,24]
                                              [--seeds 3] [--results runs/budget-sweep]

Each point is an ordinary ``prefzoo bench --suite smol-sentiment --algorithms dpo --train
learning_rate=…,steps=…`` run (finished cells are reused), so a killed sweep resumes. Prints one line
per point: Δ gold reward vs the reference with its interval and Holm-free p (one comparison per
point), held-out pair accuracy, log π/π_ref, and the training time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefzoo.benchmarks.suites.lm.table import aggregate
from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite
from prefzoo.registry import ALGORITHMS

app = typer.Typer(add_completion=False)


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


@app.command()
def sweep(
    learning_rates: Annotated[str, typer.Option(help="Comma-separated learning rates.")] = "1e-4,3e-4,1e-3",
    steps: Annotated[str, typer.Option(help="Comma-separated step budgets.")] = "12,24",
    seeds: Annotated[int, typer.Option(min=1)] = 3,
    algorithm: Annotated[str, typer.Option(help="The algorithm the budget is measured with.")] = "dpo",
    results: Annotated[Path, typer.Option(help="Folder for the sweep's result files.")] = Path("runs/budget-sweep"),
) -> None:
    suite, cls = SmolSentimentSuite(), ALGORITHMS.get(algorithm)
    lines = []
    for lr in _floats(learning_rates):
        for n in (int(x) for x in _floats(steps)):
            docs = suite.run([cls], results, seeds=seeds, profile="quick",
                             train=[f"learning_rate={lr}", f"steps={n}"])
            row = next(r for r in aggregate(docs) if r["name"] == algorithm)
            d, g, a, k = row["vs_reference"], row["gold_reward"], row["pair_accuracy"], row["kl"]
            lines.append(f"lr {lr:g}  steps {n:3d}  gold {g['mean']:.3f} [{g['low']:.3f}, {g['high']:.3f}]  "
                         f"Δ vs ref {d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] p {d['p']:.4f}  "
                         f"pair acc {a['mean']:.3f} [{a['low']:.3f}, {a['high']:.3f}]  "
                         f"log-ratio {k['mean']:.2f}  train {row['train_time_s']:.0f} s/seed")
            print(lines[-1], flush=True)
    print("\n".join(["", f"{algorithm}, {seeds} seeds per point:"] + lines))


if __name__ == "__main__":
    app()
