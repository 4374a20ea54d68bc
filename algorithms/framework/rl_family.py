"""The RL family's interface: rollouts scored by a reward model, per-token rewards, advantages and a
per-sequence loss."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from prefzoo.algorithms.framework.config import (AlgorithmConfig, changed_fields, config_from_changes,
                                                 named_with_changes, param)
from prefzoo.algorithms.framework.interface import Algorithm, Family, LossOutput


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
    gradient clipping, epochs and minibatches are the loop's settings, not the algorithm's. A member's
    ``Config`` derives from :class:`RewardModelChoice` (which reward model, configured how, asked about
    which principles).
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

    @property
    def reward_learner_config(self) -> AlgorithmConfig | None:
        """The reward learner's config (its ``Config`` with ``reward_learner_config`` applied), or None
        for the learner's defaults where this algorithm's Config does not derive from RewardModelChoice."""
        return self.config.learner_config() if isinstance(self.config, RewardModelChoice) else None

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


@dataclass(frozen=True)
class RewardModelChoice(AlgorithmConfig):
    """The Config fields that say which reward model scores an RL algorithm's rollouts; an RL
    algorithm's ``Config`` derives from it. They are part of the config, so of the result's hash: two
    RL cells on differently configured reward learners never share a result."""

    reward_learner: str = param("bt", choices=reward_learners)
    """Any registered reward-learning algorithm; its RewardModel scores the rollouts."""
    reward_learner_config: str = param("", omit_default=True)
    """The learner's Config fields that differ from its defaults, a JSON object ('{"negation": 0.0}'); a run that includes the learner with --set fills it in."""
    reward_principle: str = param("", omit_default=True)
    """An instructable reward learner's principles for the rollouts (salmon-rm: e.g. "safe"; "" all)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # validated (a field the learner lacks fails here, naming it) and written one way, so that one
        # learner config is one hash: '{"negation": 0}' and '{"negation": 0.0}' alike become the latter
        object.__setattr__(self, "reward_learner_config", changed_fields(self.learner_config()))

    def learner_config(self) -> AlgorithmConfig:
        """The reward learner's Config: its defaults with ``reward_learner_config`` applied."""
        from prefzoo.registry import ALGORITHMS

        return config_from_changes(ALGORITHMS.get(self.reward_learner).Config, self.reward_learner_config,
                                   self._where("reward_learner_config"))

    def learner_label(self) -> str:
        """The learner's name, with the fields that differ from its defaults: ``salmon-rm[negation=0.0]``."""
        return named_with_changes(self.reward_learner, self.reward_learner_config)
