"""What a family runner takes and returns: the suite's run as a :class:`RunContext`, and a
:class:`CellResult` (the training record and its :class:`Costs`) that writes itself into the result
document in one place."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from prefzoo.algorithms.engine.models import ModelSettings
from prefzoo.algorithms.engine.online import OnlineSettings
from prefzoo.algorithms.engine.pairwise import TrainResult, TrainSettings, visit_order
from prefzoo.algorithms.engine.rl import RLSettings
from prefzoo.algorithms.framework.base import Family

NEEDS_GOLD = {
    Family.ONLINE: "labels its own samples and needs an oracle",
    Family.REWARD: "reward models are diagnosed against a gold reward",
    Family.RL: "its reward model is diagnosed and its rollouts are judged against a gold reward",
}
"""Why a family cannot run on data without a gold reward (pairwise can)."""


@dataclass
class RunContext:
    """What a runner needs from a suite's run. ``train`` carries the cell's seed; ``train_data`` holds
    tokenised pairs with their reference log-probs; ``gold`` scores prompts' responses (None without a gold reward)."""

    model: Any
    tokenizer: Any
    model_settings: ModelSettings
    train: TrainSettings
    accelerator: Any
    train_data: Any
    train_prompts: list
    eval_data: Any
    out_dir: Path
    """Where the cell's adapters and reward models are saved."""
    run_name: str
    gold: Callable[[list, list[str]], torch.Tensor] | None = None
    """gold(prompts, texts): the gold reward of each prompt's response, ``(n,)``."""
    eval_gold: torch.Tensor | None = None
    """Gold rewards of the held-out pairs, ``(n, 2)`` (chosen, rejected)."""
    ood_data: Any = None
    """Tokenised out-of-distribution held-out pairs (prompts of templates and subjects training never
    saw), or None where the suite has none."""
    ood_gold: torch.Tensor | None = None
    """Their gold rewards, ``(n, 2)``."""
    label_temperature: float = 1.0
    online: OnlineSettings = OnlineSettings()
    rl: RLSettings = RLSettings()
    reward_epochs: int = 3
    reward_labels: float = 1.0
    """The share of the read pairs whose labels a reward learner sees (see ``label_budget``)."""
    policy_adapter: Callable[[str, Any], Path] | None = None
    """The saved adapter of an algorithm's trained policy at a config, this cell's seed and setting
    (reward extraction reads it); raises where there is none."""
    sampling: dict[str, Any] = field(default_factory=dict)
    """``sample_responses`` keywords of the suite's sampler (max_new_tokens, batch_size, temperature, ...)."""
    max_completion_length: int | None = None
    log: Callable[[str], None] = print
    memory_budget: int | None = None
    """Bytes the device may hold (a ``--max-memory`` cap, else the card's size; None on a CPU): what
    ``gradient_checkpointing="auto"`` measures against."""
    reward_model_cache: Path | None = None
    """A folder, keyed by the base model, where an RL cell keeps the reward model it trains and finds one
    already trained from the same inputs (``reward_cache``); None: every RL cell trains its own."""
    principles: dict[str, Any] | None = None
    """The suite's principles by name (``principles.Principle``), which an instructable reward learner
    trains on and is asked about; None where the suite has none."""

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id

    def rows_read(self) -> list[int]:
        """The distinct train rows the budget reads (see ``visit_order``)."""
        return sorted(set(visit_order(len(self.train_data), self.train)))


@dataclass
class Costs:
    """What a run spent on data: the same columns for every family."""

    generated_tokens: int = 0
    responses_sampled: int = 0
    oracle_queries: int = 0
    """Preference labels (or gold scores) paid for."""
    dataset_pairs: int = 0
    reward_model_queries: int = 0


@dataclass
class CellResult:
    """A family runner's result: the training record, its costs, and what the family adds (an RL
    curve, a reward model's diagnostics) in ``extras``; ``evaluation`` where the family evaluates its
    own product (a reward model), else the suite evaluates the policy."""

    train: TrainResult
    costs: Costs
    label: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None
    artifact: str | None = None

    def document(self) -> dict[str, Any]:
        t = self.train
        doc = {"train": {"wall_time_s": t.wall_time_s, "tokens": t.train_tokens,
                         "tokens_per_s": t.train_tokens / t.wall_time_s if t.wall_time_s else 0.0,
                         "peak_memory_bytes": t.peak_memory_bytes, "history": t.history,
                         **({"gradient_checkpointing": t.gradient_checkpointing}
                            if t.gradient_checkpointing is not None else {}),
                         **dataclasses.asdict(self.costs), **self.extras}}
        if self.label:
            doc["label"] = self.label
        if self.artifact:
            doc["reward_model"] = self.artifact
        return doc
