"""The LM suites' result document (``LMResult``): what one (algorithm, config, seed) cell trained and how
its policy, or its reward model, scored on the held-out prompts and pairs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from prefzoo.benchmarks.harness.documents import FORBID, Interval, ResultDocument, TuningRecord



@dataclasses.dataclass(frozen=True, kw_only=True)
class Samples:
    """The policy's samples on the held-out prompts (``eval_prompts × samples_per_prompt`` of them, in
    prompt order, the same sampling seeds for every algorithm): each sample's prompt, text, gold reward,
    log π/π_ref (not for the reference) and, on two-factor data, whether it is safe."""

    __pydantic_config__ = FORBID
    prompt_ids: list[int]
    texts: list[str]
    rewards: list[float] | None = None
    log_ratios: list[float] | None = None
    safe: list[bool] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class KLSamples:
    """The samples KL(π‖π_ref) is estimated on (``engine.kl``): drawn from π at temperature 1 without
    truncation, each one's prompt and log π/π_ref."""

    __pydantic_config__ = FORBID
    prompt_ids: list[int]
    log_ratios: list[float]


@dataclasses.dataclass(frozen=True)
class MarginThird:
    """Pair accuracy within one third of the held-out pairs, split by gold margin g_w − g_l."""

    __pydantic_config__ = FORBID
    margin_low: float
    margin_high: float
    pairs: int
    accuracy: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class RewardDiagnostics:
    """A reward model against the gold reward on held-out pairs (``engine.reward_eval``); ``*_ci`` are
    [low, high] bootstrap intervals over pairs."""

    __pydantic_config__ = FORBID
    pairs: int
    pair_accuracy: float
    pair_accuracy_ci: list[float]
    correlation: float
    correlation_ci: list[float]
    ece: float
    spearman: float | None = None
    spearman_ci: list[float] | None = None
    accuracy_by_margin: list[MarginThird] | None = None
    implied_temperature: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Evaluation:
    """The evaluation of a cell: of its policy (samples, gold, KL, win rate against the reference's
    samples, held-out margins of its implicit reward) or of its reward model (``reward``)."""

    __pydantic_config__ = FORBID
    samples: Samples | None = None
    generated_tokens: int = 0
    sampling_tokens_per_s: float | None = None
    gold_reward: Interval | None = None
    win_rate: Interval | None = None
    kl: Interval | None = None
    """The mean log π/π_ref on the policy's (tempered, truncated) evaluation samples, nats per response."""
    sequence_kl: Interval | None = None
    """KL(π‖π_ref) of the untempered, untruncated policies over responses of the suite's length, nats per
    response, estimated on ``kl_samples``."""
    kl_samples: KLSamples | None = None
    pair_accuracy: Interval | None = None
    held_out_margins: list[float] | None = None
    violation_rate: float | None = None
    reward: RewardDiagnostics | None = None
    reward_ood: RewardDiagnostics | None = None
    principles: dict[str, dict[str, float | None]] | None = None
    """Principles asked about → factor → the share of held-out pairs ordered that factor's way."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """The policy evaluated after ``step`` of its budget (``--eval-at``), as the final one is."""

    __pydantic_config__ = FORBID
    step: int
    eval: Evaluation


@dataclasses.dataclass(frozen=True, kw_only=True)
class Judged:
    """The cell's stored samples scored again by a second judge (``--judge`` on a suite with a gold of
    its own): ``rewards`` pairs with ``eval.samples``, ``checkpoints[i]`` with the samples of checkpoint i."""

    __pydantic_config__ = FORBID
    judge: dict[str, str]
    rewards: list[float]
    checkpoints: list[list[float]] | None = None


@dataclasses.dataclass(frozen=True)
class RolloutPoint:
    """An RL iteration's rollouts: gold and proxy (reward-model) reward, and KL(π‖π_ref) of them."""

    __pydantic_config__ = FORBID
    iteration: int
    gold_reward: float | None
    proxy_score: float
    kl: float
    sqrt_kl: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class SelfEvolution:
    """SER's self-labelling rounds (Huang et al. 2024)."""

    __pydantic_config__ = FORBID
    kept_round: int
    labelled_train_pairs: int
    rounds: list[dict[str, Any]]
    self_labelled: int
    stopped: str
    validation_pairs: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class RewardLearning:
    """What a reward model learned from: labelled, unlabelled and relabelled pairs, or demonstrations."""

    __pydantic_config__ = FORBID
    labelled_pairs: int
    unlabelled_pairs: int
    demonstrations: int | None = None
    relabelled_examples: int | None = None
    self_evolution: SelfEvolution | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Training:
    """A cell's training record (``engine.cell.CellResult.document``): time, throughput, memory, the
    per-step ``history`` the algorithm logs (its own metric names), the data it consumed, and what its
    family adds (a reward learner's pairs and epochs, an RL run's rollout ``curve``)."""

    __pydantic_config__ = FORBID
    wall_time_s: float
    tokens: int
    tokens_per_s: float
    peak_memory_bytes: int
    history: list[dict[str, Any]]
    gradient_checkpointing: bool | None = None
    generated_tokens: int = 0
    responses_sampled: int = 0
    oracle_queries: int = 0
    dataset_pairs: int = 0
    reward_model_queries: int = 0
    pairs: int | None = None
    epochs: int | None = None
    final_labels_mean: float | None = None
    labelled_pairs: int | None = None
    unlabelled_pairs: int | None = None
    demonstrations: int | None = None
    relabelled_examples: int | None = None
    self_evolution: SelfEvolution | None = None
    curve: list[RolloutPoint] | None = None
    reward_learning: RewardLearning | None = None
    reward_model_wall_time_s: float | None = None
    reward_model_reused: bool | None = None
    """True where an earlier RL cell trained this reward model from the same inputs and this one loaded
    it (``reward_cache``); ``reward_model_wall_time_s`` is then that training's time."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TuningCandidate:
    __pydantic_config__ = FORBID
    config: dict[str, Any]
    validation_gold_reward: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class Tuning(TuningRecord):
    """A tuning record of an LM suite: each trial trained on ``trial_seed`` and scored by its mean gold
    reward on ``validation_prompts`` prompts apart from the held-out ones."""

    trial_seed: int
    validation_prompts: int
    candidates: list[TuningCandidate]


@dataclasses.dataclass(frozen=True, kw_only=True)
class LMResult(ResultDocument):
    """A result of an LM suite (smol-sentiment, smol-two-factor, preference-dataset). ``data_key`` names
    the exact data (model fingerprint, data settings, labelling); ``data_options`` are the suite options
    that chose it (e.g. smol-two-factor's ``preference``); ``train`` is None for the reference policy."""

    dataset: str
    has_gold: bool
    profile: str
    data_key: str
    engine_revision: int
    data_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    device: str | None = None
    label: str | None = None
    """The row's name where it is not the algorithm's (a tuned config, an RL run's reward learner)."""
    adapter: str | None = None
    reward_model: str | None = None
    labeller_temperature: float | None = None
    labels_against_gold: float | None = None
    tuning: Tuning | None = None
    train: Training | None
    eval: Evaluation
    checkpoints: list[Checkpoint] | None = None
    """Evaluations along training (``--eval-at``), in step order; ``eval`` is the last step's."""
    judged: dict[str, Judged] | None = None
    """A second gold's scores of the same samples, by judge spec (``second_gold``)."""

    @property
    def row_name(self) -> str:
        return self.label or self.algorithm

    @property
    def reward_labels(self) -> float:
        """The share of read pairs whose labels reward learning saw (written into settings below 1 only)."""
        return self.settings.get("reward_labels", 1.0)

    @classmethod
    def migrate(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        doc = super().migrate(raw)
        if raw.get("schema", 1) < 2:
            doc.setdefault("engine_revision", 1)  # the revision before it was recorded
            doc.setdefault("data_options", _data_options_of_v1(doc))
        return doc


def _data_options_of_v1(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Schema 1 recorded smol-two-factor's ``--preference`` only as the last part of its data key
    (``<fingerprint>+<shipped|generated>+<preference>``)."""
    if doc.get("suite") == "smol-two-factor":
        return {"preference": doc["data_key"].rsplit("+", 1)[1]}
    return {}
