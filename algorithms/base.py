"""The shared interface: four algorithm families, each owning its loop.

An algorithm supplies only what makes it different — usually one pure tensor function — and the
family's loop does the rest. The harness never asks which algorithm it runs, only which family.

=================  =========================================  ==========================================
family             what a member supplies                     what the family's loop does
=================  =========================================  ==========================================
pairwise           ``loss(PairLogps) -> LossOutput``          batching, policy and cached reference
                                                              log-probs, optimiser, logging
online-preference  ``samplers`` and ``loss(pairs, origins)``  generation, oracle labels, growing dataset
rl-with-reward     per-token rewards, advantages, losses      rollouts, KL to reference, minibatch epochs
reward-learning    reward loss and label update per epoch     trains a scalar head + adapter
=================  =========================================  ==========================================
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from torch import Tensor

from prefzoo.algorithms.config import AlgorithmConfig, ConfigSweep


class Family(str, enum.Enum):
    PAIRWISE = "pairwise"
    ONLINE = "online-preference"
    RL = "rl-with-reward"
    REWARD = "reward-learning"

    def __str__(self) -> str:
        return self.value


class Algorithm(ABC):
    """Base of every registered algorithm.

    Subclasses set ``family`` (through their family base), ``paper`` (authors, year and arXiv id) and a
    nested frozen ``Config`` dataclass derived from :class:`AlgorithmConfig`. ``name`` is set by the
    registry when the class is registered.
    """

    name: ClassVar[str] = ""
    family: ClassVar[Family]
    paper: ClassVar[str] = ""
    Config: ClassVar[type[AlgorithmConfig]] = AlgorithmConfig
    trains_policy: ClassVar[bool] = True
    """False for a family whose product is not a policy (reward learning): no policy evaluation."""
    has_implicit_reward: ClassVar[bool] = False
    """True when ``implicit_reward`` ranks responses (β·log π/π_ref and kin): held-out pair accuracy."""

    def __init__(self, config: AlgorithmConfig | ConfigSweep | None = None):
        if config is None:
            config = self.Config()
        configs = config.configs if isinstance(config, ConfigSweep) else (config,)
        if not isinstance(configs[0], self.Config):
            raise TypeError(f"{type(self).__name__} takes a {self.Config.__qualname__}, "
                            f"got {type(configs[0]).__qualname__}")
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    def state_dict(self) -> dict:
        """Running statistics a stateful loss keeps across steps (BCO's reward shift, β-DPO's margin
        averages), as JSON-able values; empty for a stateless one. One instance trains one run, so the
        state is per run; the LM suite saves it beside the adapter (``algorithm_state.json``)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned (to resume a run)."""


# --------------------------------------------------------------------------------------------- pairwise


@dataclass(frozen=True)
class PairLogps:
    """Log-probabilities of a batch of preference pairs (x, y_w ≻ y_l), summed over each response.

    Every tensor has the same shape: ``(batch,)`` in the LM engine, any leading shape elsewhere (the
    bandit suite uses ``(configs, datasets, seeds, pairs)``). ``ref_*`` are log π_ref; reference-free
    algorithms receive ``None``. ``*_tokens`` are response lengths |y| as floats.

    ``kl_logratio`` (for a loss that declares ``uses_kl_estimate``) holds log π(y'|x) − log π_ref(y'|x)
    of the batch's responses each scored after another row's prompt (TRL's rotation by one row), without
    gradient, shape ``(..., m)`` for any m: the batch's estimate of KL(π ‖ π_ref) is its mean over the
    last axis (KTO's reference point z₀).

    ``chosen_safe`` / ``rejected_safe`` (for a loss that declares ``uses_safety_labels``) are 1.0 where
    the response is safe and 0.0 where it is not (BFPO's I_safe), shaped like the log-probs; on
    two-factor data the pair is then ordered by the other factor (helpfulness) alone.
    """

    policy_chosen: Tensor
    policy_rejected: Tensor
    ref_chosen: Tensor | None = None
    ref_rejected: Tensor | None = None
    chosen_tokens: Tensor | None = None
    rejected_tokens: Tensor | None = None
    kl_logratio: Tensor | None = None
    chosen_safe: Tensor | None = None
    rejected_safe: Tensor | None = None

    @property
    def chosen_logratio(self) -> Tensor:
        """log π(y_w|x) − log π_ref(y_w|x)."""
        return self.policy_chosen - self.ref_chosen

    @property
    def rejected_logratio(self) -> Tensor:
        """log π(y_l|x) − log π_ref(y_l|x)."""
        return self.policy_rejected - self.ref_rejected

    @property
    def logratio_margin(self) -> Tensor:
        """h = log[π(y_w) π_ref(y_l) / (π(y_l) π_ref(y_w))], the argument of Ψ-PO losses (Azar et al. Eq. 6)."""
        return self.chosen_logratio - self.rejected_logratio


@dataclass
class LossOutput:
    """Per-example losses (same shape as the inputs, not reduced) and per-example diagnostics.

    The family loop reduces and logs; keeping the batch axis lets it weight, mask and accumulate.
    """

    losses: Tensor
    metrics: dict[str, Tensor] = field(default_factory=dict)

    @property
    def loss(self) -> Tensor:
        return self.losses.mean()


class Pairwise(Algorithm):
    """Offline pairwise preference optimisation: a member supplies ``loss(PairLogps) -> LossOutput``.

    The loop (the LM engine, or the bandit suite for a tabular policy) batches pairs, computes the
    policy log-probs and the cached reference log-probs, calls the loss, and steps the optimiser.
    ``uses_reference = False`` marks a reference-free loss, for which no reference forward is run;
    ``uses_lengths = True`` asks for response lengths; ``uses_kl_estimate = True`` asks for the
    mismatched-response log-ratios of ``PairLogps.kl_logratio`` (two more forward passes without gradient,
    policy and reference, per micro-batch); ``uses_safety_labels = True`` asks for each response's binary
    safety label (``PairLogps.chosen_safe``), which only two-factor data carry.
    """

    family = Family.PAIRWISE
    has_implicit_reward = True
    uses_reference: ClassVar[bool] = True
    uses_lengths: ClassVar[bool] = False
    uses_kl_estimate: ClassVar[bool] = False
    uses_safety_labels: ClassVar[bool] = False

    @abstractmethod
    def loss(self, batch: PairLogps) -> LossOutput:
        """The per-pair loss; pure, differentiable in ``batch.policy_*``."""

    def implicit_reward(self, logp: Tensor, ref_logp: Tensor | None, tokens: Tensor | None) -> Tensor:
        """The reward the trained policy implies for one response, up to a positive scale and a
        per-prompt constant — enough to rank two responses (held-out pair accuracy)."""
        return logp - ref_logp

    def bandit_fixed_point(self, n_arms: int, pairs: tuple[tuple[int, int], ...],
                           safe: tuple[bool, ...] | None = None) -> Tensor | None:
        """π over ``n_arms`` arms at the minimiser of the loss's population objective on a tabular
        softmax policy with a uniform π_ref, pairs (chosen, rejected) sampled uniformly, ``safe`` each
        arm's safety label (None: every arm safe); None where the paper gives no closed form. The bandit
        suite tables and plots it beside the measured policy."""
        return None

    def __call__(self, batch: PairLogps) -> LossOutput:
        if self.uses_reference and (batch.ref_chosen is None or batch.ref_rejected is None):
            raise ValueError(f"{self.name or type(self).__name__} needs reference log-probs (ref_chosen, ref_rejected)")
        if self.uses_lengths and (batch.chosen_tokens is None or batch.rejected_tokens is None):
            raise ValueError(f"{self.name or type(self).__name__} needs response lengths (chosen_tokens, rejected_tokens)")
        if self.uses_kl_estimate and batch.kl_logratio is None:
            raise ValueError(f"{self.name or type(self).__name__} needs mismatched-response log-ratios (kl_logratio)")
        if self.uses_safety_labels and (batch.chosen_safe is None or batch.rejected_safe is None):
            raise ValueError(f"{self.name or type(self).__name__} needs each response's safety label (chosen_safe, "
                             "rejected_safe): train it on two-factor data")
        out = self.loss(batch)
        if out.losses.shape != batch.policy_chosen.shape:
            raise ValueError(f"{self.name or type(self).__name__}.loss returned shape {tuple(out.losses.shape)}; "
                             f"expected one loss per pair, {tuple(batch.policy_chosen.shape)}")
        return out


# ------------------------------------------------------------------------------------ online preference

Sampler = Literal["policy", "reference"]


@dataclass(frozen=True)
class PairOrigins:
    """Which response of each labelled pair was sampled from π_ref (the base with adapters disabled);
    bool tensors shaped like the pairs' log-probs. XPO's exploration term reads them."""

    chosen_from_reference: Tensor
    rejected_from_reference: Tensor


class OnlinePreference(Algorithm):
    """Online preference optimisation (Guo et al. 2024 Online DPO; Xie et al. 2024 XPO, Algorithm 1).

    A member supplies ``samplers`` — which policy generates each response of a pair, ``"policy"`` (the
    current adapter) or ``"reference"`` (the base with adapters truly disabled) — whether it trains on
    every pair labelled so far (``keeps_all_data``, Algorithm 1's growing D_pref) or on the round's
    fresh pairs only, and ``loss``: per-pair losses of labelled pairs (:class:`PairLogps`, shape
    ``(batch,)`` in the LM loop, ``(seeds, pairs)`` in the bandit) given where each response came from
    and ``progress`` ∈ [0, 1], the fraction of rounds done (for schedules).
    The loop, each round: sample prompts; generate a pair from ``samplers``; label it with a preference
    oracle, counting queries; append the labelled pairs to the dataset (optionally a capped replay
    buffer); take optimiser steps on ``loss`` over that data.
    """

    family = Family.ONLINE
    has_implicit_reward = True
    samplers: ClassVar[tuple[Sampler, Sampler]] = ("policy", "policy")
    keeps_all_data: ClassVar[bool] = True

    @abstractmethod
    def loss(self, pairs: PairLogps, origins: PairOrigins, progress: float) -> LossOutput:
        """The per-pair loss of one update, shape ``pairs.policy_chosen.shape``."""

    def implicit_reward(self, logp: Tensor, ref_logp: Tensor | None, tokens: Tensor | None) -> Tensor:
        """β·log π/π_ref up to scale: the DPO reward the online update fits (held-out pair accuracy)."""
        return logp - ref_logp


# ------------------------------------------------------------------------------------- RL with a reward


@dataclass(frozen=True)
class Rollout:
    """A batch of generated responses, as the RL loop recorded them. Tensors ``(batch, T)`` unless noted.

    ``logprobs`` are per-token log-probs under the policy that generated the batch (π_old);
    ``ref_logprobs`` under π_ref (adapters disabled); ``scores`` ``(batch,)`` is the reward model's (or
    oracle's) score of each whole response; ``mask`` is 1 on response tokens. ``values`` are the
    critic's V_old for algorithms that declare ``uses_critic``, else None. Rows come in groups of
    ``group_size`` consecutive responses to the same prompt (``batch = prompts × group_size``).
    """

    logprobs: Tensor
    ref_logprobs: Tensor
    scores: Tensor
    mask: Tensor
    values: Tensor | None = None
    group_size: int = 1
    max_tokens: int | None = None
    """The sampler's cap on response length (Dr. GRPO divides by it); None: ``T``."""

    def rows(self, index) -> Rollout:
        """The rollout restricted to some rows (a minibatch); the group structure is the loop's business
        once advantages are computed, so it is dropped."""
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return Rollout(pick(self.logprobs), pick(self.ref_logprobs), pick(self.scores), pick(self.mask),
                       pick(self.values), max_tokens=self.max_tokens)

    def grouped(self, x: Tensor) -> Tensor:
        """``(batch, ...)`` → ``(prompts, group_size, ...)``."""
        return x.reshape(-1, self.group_size, *x.shape[1:])


class RLWithReward(Algorithm):
    """Reinforcement learning against a scalar reward: PPO-RLHF (Ouyang et al. 2022) with a critic, or
    critic-free methods with group or batch baselines (RLOO, GRPO, REINFORCE++).

    A member supplies the per-token rewards (score and any KL penalty), the advantage estimator and
    the per-sequence loss, and declares what the loop must provide: ``uses_critic`` (a value head,
    initialised from the reward model when ``critic_from_reward_model``), ``samples_per_prompt`` (the
    group size k), ``uses_entropy``. The loop samples ``samples_per_prompt`` responses per prompt,
    scores them with a ``RewardModel`` from any registered reward learner (or an oracle), computes
    π_old and π_ref per-token log-probs, and runs minibatch epochs over ``loss``. Learning rate,
    gradient clipping, epochs and minibatches are the loop's settings, not the algorithm's.
    """

    family = Family.RL
    uses_critic: ClassVar[bool] = False

    @property
    def samples_per_prompt(self) -> int:
        """k, responses sampled per prompt (a group); 1 unless the algorithm's Config says otherwise."""
        return getattr(self.config, "samples_per_prompt", 1)

    @property
    def uses_entropy(self) -> bool:
        """Whether ``loss`` reads the policy's per-token entropy (the loop computes it only then)."""
        return False

    @property
    def critic_from_reward_model(self) -> bool:
        """Initialise the critic from the reward model (PPO-max) instead of a fresh adapter."""
        return False

    @property
    def reward_learner(self) -> str:
        """The registered reward-learning algorithm whose RewardModel scores the rollouts."""
        return getattr(self.config, "reward_learner", "bt")

    @property
    def reward_principle(self) -> str:
        """The principles an instructable reward model (a learner that ``uses_principles``) is asked to
        score the rollouts by: names of the suite's principles joined by ",", "" for all of them."""
        return getattr(self.config, "reward_principle", "")

    def pretraining_data_requirement(self) -> str | None:
        """What in the config needs a pretraining corpus mixed into the loss (PPO-ptx), or None."""
        return None

    def score_normalisation(self) -> tuple[float, float]:
        """(μ, σ) such that the score enters the rewards as (score − μ)/σ, as of the last
        ``token_rewards`` call; the loop maps a critic initialised from the reward model onto this scale."""
        return 0.0, 1.0

    @abstractmethod
    def token_rewards(self, rollout: Rollout) -> Tensor:
        """Per-token rewards ``(batch, T)``, e.g. a KL penalty on every token and the score on the last."""

    @abstractmethod
    def advantages(self, rollout: Rollout, rewards: Tensor) -> tuple[Tensor, Tensor]:
        """Advantages and value targets, each ``(batch, T)`` (targets unused without a critic)."""

    @abstractmethod
    def loss(self, logprobs: Tensor, values: Tensor | None, rollout: Rollout, advantages: Tensor, returns: Tensor,
             entropy: Tensor | None = None) -> LossOutput:
        """Per-sequence loss ``(batch,)`` for fresh per-token ``logprobs`` ``(batch, T)`` (and fresh
        ``values`` with a critic); ``entropy`` ``(batch, T)`` where ``uses_entropy``. A loss whose
        aggregation is over the whole batch (DAPO's token-level mean) returns per-sequence terms that
        the loop's mean turns into it (see ``LossOutput.losses``)."""


def reward_learners() -> list[str]:
    """The registered reward-learning algorithms (built-in and plugins): what an RL algorithm's
    ``reward_learner`` may name."""
    from prefzoo.registry import ALGORITHMS

    return sorted(n for n, cls in ALGORITHMS.load_all().items() if cls.family == Family.REWARD)


# ------------------------------------------------------------------------------------- reward learning


class RewardLearning(Algorithm):
    """Learns a scalar reward r(x, y) from preference pairs (Bradley–Terry MLE; Iterative Data Smoothing, Zhu et al. 2024).

    A member supplies ``loss`` on the rewards of a batch of pairs with soft labels (the probability that
    the chosen response is preferred, ``(batch,)``) and, optionally, ``update_labels`` run after each
    epoch. The loop trains a LoRA adapter and a scalar head on the shared base and returns a
    ``RewardModel`` that the RL and online families consume.
    """

    family = Family.REWARD
    trains_policy = False
    uses_unlabelled: ClassVar[bool] = False
    """True for a semi-supervised learner (SER): the loop also hands it the pairs whose labels the label
    budget withholds, in random order, and runs its self-labelling rounds."""
    extracts_policy: ClassVar[bool] = False
    """True for reward extraction (inverse RL): the loop trains it on a trained policy's samples
    against the reference's (``config.policy`` names the algorithm) instead of on labelled pairs."""
    uses_principles: ClassVar[bool] = False
    """True for an instructable reward model (SALMON): the loop trains it on pairs relabelled under
    principles drawn per pair (its ``draw``), the principles' text in its input, and an RL
    algorithm asks it about the principles its ``reward_principle`` names."""

    @property
    def learning_rate(self) -> float | None:
        """The step size the algorithm itself defines (IDS's α), or None for the loop's learning rate."""
        return None

    @abstractmethod
    def loss(self, reward_chosen: Tensor, reward_rejected: Tensor, labels: Tensor) -> LossOutput:
        """Per-pair loss, ``(batch,)``."""

    def update_labels(self, labels: Tensor, reward_chosen: Tensor, reward_rejected: Tensor) -> Tensor:
        """New soft labels after an epoch; the default keeps them."""
        return labels


FAMILY_BASES: dict[Family, type[Algorithm]] = {
    Family.PAIRWISE: Pairwise,
    Family.ONLINE: OnlinePreference,
    Family.RL: RLWithReward,
    Family.REWARD: RewardLearning,
}
