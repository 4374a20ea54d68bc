"""A setting named by what it changes: the leaderboard's section titles for an LM suite say how each
setting differs from the suite's main one ("30% of the labels", "labeller temperature 1", "tuned: 3
trials"), generated from the result documents' settings; the hash stays beside them for the files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prefzoo.benchmarks.suites.lm.documents import LMResult

PHRASES: dict[str, Callable[[Any], str]] = {
    "reward_labels": lambda v: f"{v:.0%} of the labels",
    "train.learning_rate": lambda v: f"learning rate {v:g}",
    "train.steps": lambda v: f"{v} steps",
    "train.batch_size": lambda v: f"batches of {v} pairs",
    "eval_at": lambda v: "evaluated after steps " + ", ".join(map(str, v)) if v else "evaluated at the end only",
    "kl_samples": lambda v: f"KL(π‖π_ref) on {v} sample{'s' if v != 1 else ''} per prompt",
    "data.eval_prompts": lambda v: f"{v} held-out prompts",
    "samples_per_prompt": lambda v: f"{v} samples per held-out prompt",
    "model.model": lambda v: f"model {v}",
    "data.temperature": lambda v: f"sampler temperature {v:g}",
    "data.label_temperature": lambda v: f"data labelled at temperature {v:g}",
    "rl.steps_per_rollout": lambda v: f"RL: {v} optimiser steps per rollout",
    "rl.epochs": lambda v: f"RL: {v} epochs per rollout",
}
"""How a changed setting reads; any other reads ``key = value``."""

ABSENT = {"reward_labels": "all the labels", "eval_at": "evaluated at the end only",
          "kl_samples": "no KL(π‖π_ref) estimate"}
"""How a setting reads where the main setting has it and this one does not (each is written only where
taken, so its absence is the default)."""


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def setting_name(doc: LMResult, main: LMResult) -> str:
    """What ``doc``'s setting changes against ``main``'s, in words; "main setting" for the main one."""
    phrases = []
    if doc.dataset != main.dataset:
        phrases.append(f"data {doc.dataset}")
    mine, theirs = _flat(doc.settings), _flat(main.settings)
    for key in sorted(set(mine) | set(theirs), key=lambda k: (k not in PHRASES, list(PHRASES).index(k)
                                                              if k in PHRASES else 0, k)):
        if key in mine and mine[key] != theirs.get(key):
            phrases.append(PHRASES[key](mine[key]) if key in PHRASES else f"{key} = {mine[key]}")
        elif key not in mine and key in ABSENT and key in theirs:
            phrases.append(ABSENT[key])
    if doc.labeller_temperature != main.labeller_temperature and doc.labeller_temperature is not None:
        phrases.append(f"labeller temperature {doc.labeller_temperature:g}")
    for key, value in doc.data_options.items():
        if main.data_options.get(key) != value:
            phrases.append(f"judged by {value['spec']}" if key == "judge" else f"{value} {key}")
    if doc.tuning and not main.tuning:
        phrases.append(f"tuned: {doc.tuning.trials} trials")
    elif main.tuning and not doc.tuning:
        phrases.append("each algorithm's defaults, untuned")
    if doc.engine_revision != main.engine_revision:
        phrases.append(f"engine revision {doc.engine_revision}")
    if phrases:
        return "; ".join(phrases)
    return "main setting" if doc.data_key == main.data_key else "another draw of the same data"
