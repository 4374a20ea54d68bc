"""Reward models kept across the RL cells of a run. Every RL algorithm of a seed learns its reward
model from the same pairs with the same learner and budget, so the model is trained once, saved under
a key of everything it was trained from, and loaded by every later cell with that key. The RL rows of
a seed are then scored by one reward model and differ only by their algorithm, and a cell spends its
time on RL rather than on training the same reward model again (about 500 s of a SmolLM2 cell on two
CPU cores, more than its RL loop).

Written here rather than taken from a library: the model is a PEFT adapter plus a scalar head, which
``RewardModel.save``/``load`` already write and read; what this module adds is the key and the atomic
write, as the reference log-prob cache (``reference.cached_reference_logps``) does for its tensors.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from prefzoo.algorithms.engine.data import fingerprint
from prefzoo.algorithms.engine.processes import is_main, wait_for_everyone
from prefzoo.algorithms.engine.reward_model import RewardModel

RECORD = "training.json"


def reward_model_key(learner, ctx, rows) -> str | None:
    """Twenty hex digits naming what ``learner``'s reward model is a function of: the learner and its
    config, the cell's train settings (seed included), the model settings, the reward epochs and label
    share, the token ids of the ``rows`` read (a ``datasets.Dataset``), the device type and the number
    of processes. The base model is named by the folder the suite keys by (``RunContext.reward_model_cache``).
    None for a learner trained on what the key cannot see: a trained policy's samples (extraction) or
    principle draws."""
    if learner.extracts_policy or learner.uses_principles:
        return None
    payload = {"learner": learner.name, "config": learner.config.to_dict(), "train": ctx.train.to_dict(),
               "model": ctx.model_settings.to_dict(), "reward_epochs": ctx.reward_epochs,
               "reward_labels": ctx.reward_labels, "rows": fingerprint(rows),
               "device": ctx.accelerator.device.type, "processes": ctx.accelerator.num_processes}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def load_reward_model(model, folder: Path, adapter: str) -> tuple[RewardModel, float, dict[str, Any]] | None:
    """The reward model saved under ``folder`` as adapter ``adapter`` on ``model``, with its training's
    wall time and record; None where nothing is saved there."""
    record_path = Path(folder) / RECORD
    if not record_path.exists():
        return None
    record = json.loads(record_path.read_text())
    reward_model = RewardModel.load(model, folder, adapter=adapter, saved_as=record["adapter"])
    return reward_model, record["wall_time_s"], record["extras"]


def store_reward_model(reward_model: RewardModel, folder: Path, wall_time_s: float, extras: dict[str, Any]) -> None:
    """Save ``reward_model`` under ``folder`` at once or not at all: written beside it, then renamed. A
    process that finds the folder already written by another keeps that one."""
    folder = Path(folder)
    if is_main():
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = folder.parent / f".{folder.name}.{uuid.uuid4().hex}"
        try:
            reward_model.save(partial, wait=False)
            record = {"adapter": reward_model.adapter, "wall_time_s": wall_time_s, "extras": extras}
            (partial / RECORD).write_text(json.dumps(record))
            partial.rename(folder)
        except OSError:
            if not (folder / RECORD).exists():
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    wait_for_everyone()
