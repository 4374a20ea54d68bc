"""Evaluation metrics as `evaluate` modules kept in the repository and loaded from their folders
(never from a hub): ``evaluate.load(str(METRICS / "gold_reward"))``. Usable outside prefzoo."""

from pathlib import Path

METRICS = Path(__file__).resolve().parent


def load_metric(name: str):
    import evaluate

    return evaluate.load(str(METRICS / name))
