"""The bandit suite's result document (``BanditResult``), and reading it: grouped by config, a config's
strength label, the algorithm a document ran, a mean with its interval across seeds."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from prefzoo.benchmarks.harness.documents import FORBID, ResultDocument, TuningRecord
from prefzoo.benchmarks.harness.stats import mean_ci


@dataclasses.dataclass(frozen=True)
class Strength:
    """The config's strength field (β, τ, ...) and its value; None for an algorithm without one."""

    __pydantic_config__ = FORBID
    field: str
    value: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArmProbabilities:
    """One pairwise dataset's policy: π over its ``arms`` at the last step (``final``) and at each of the
    run's ``steps`` (``curve``, steps × arms)."""

    __pydantic_config__ = FORBID
    arms: list[str]
    final: list[float]
    curve: list[list[float]]


@dataclasses.dataclass(frozen=True, kw_only=True)
class BanditOutcome:
    """An online or RL run on the reward bandit, one seed: the final policy's E_π[r], π(best arm),
    KL(π‖π_ref) and regret, what it paid, and E_π[r] at ``curve_rounds``."""

    __pydantic_config__ = FORBID
    final_reward: float
    best_arm_prob: float
    kl: float
    regret: float
    oracle_queries: int
    responses_sampled: int
    dataset_pairs: int | None = None
    curve_rounds: list[int]
    curve: list[float]


@dataclasses.dataclass(frozen=True, kw_only=True)
class RewardRecovery:
    """A reward learner on the Zipf bandit, one seed: its error on all arms and on the rare ones after
    each of ``epochs``, its final rewards, each arm's comparison count, the labelled comparisons, and a
    self-labelling learner's self-labelled pairs and rounds."""

    __pydantic_config__ = FORBID
    epochs: list[int]
    error_all: list[float]
    error_rare: list[float]
    rewards: list[float]
    counts: list[int]
    labelled: int
    self_labelled: int | None = None
    rounds: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrialScore:
    __pydantic_config__ = FORBID
    config: dict[str, Any]
    validation_score: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class BanditTuning(TuningRecord):
    """A tuning record of the bandit: each trial's score by the part's ``objective`` on
    ``validation_seeds`` seeds numbered from ``validation_first_seed``, apart from the reported ones."""

    objective: str
    validation_first_seed: int
    validation_seeds: int
    candidates: list[TrialScore]


@dataclasses.dataclass(frozen=True, kw_only=True)
class BanditResult(ResultDocument):
    """A result of the bandit suite: one part's outcome per document — ``datasets`` (pairwise: π on each
    dataset of Azar et al. 2023 §5.4, with the ``steps`` of its curves), ``online``, ``rl`` or ``reward``."""

    strength: Strength | None
    suite_wall_time_s: float
    tuning: BanditTuning | None = None
    steps: list[int] | None = None
    vectorised: bool | None = None
    datasets: dict[str, ArmProbabilities] | None = None
    online: BanditOutcome | None = None
    rl: BanditOutcome | None = None
    reward: RewardRecovery | None = None


def shown_arms(ds) -> list[str]:
    return list(ds.arms) if ds.show_all_arms else [ds.arms[ds.key_arm]]


def algorithm_of(doc: BanditResult):
    """The algorithm a result document ran, rebuilt from its config; None if it is no longer registered."""
    from prefzoo.registry import ALGORITHMS, RegistryError

    try:
        cls = ALGORITHMS.get(doc.algorithm)
        return cls(cls.Config.from_dict(doc.config))
    except (RegistryError, ValueError):
        return None


def by_config(docs: Sequence[BanditResult]) -> dict[tuple[str, str], list[BanditResult]]:
    """(algorithm, config hash) → its documents (one per seed), ordered by algorithm and strength."""
    groups: dict[tuple[str, str], list[BanditResult]] = defaultdict(list)
    for doc in sorted(docs, key=lambda d: (d.algorithm, _strength_value(d), d.hash, d.seed)):
        groups[(doc.algorithm, doc.hash)].append(doc)
    return dict(groups)


def _strength_value(doc: BanditResult) -> float:
    return doc.strength.value if doc.strength else 0.0


def strength_label(doc: BanditResult) -> str:
    greek = {"beta": "β", "tau": "τ"}
    st = doc.strength
    return f"{greek.get(st.field, st.field)}={st.value:g}" if st else "default"


def fmt_ci(values: Sequence[float], digits: int = 4) -> str:
    mean, half = mean_ci(values)
    if len(values) == 1:  # one seed has no interval across seeds; "± 0" would claim one
        return f"{mean:.{digits}f} (1 seed)"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"
