from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from prefzoo import (ALGORITHMS, AlgorithmConfig, LossOutput, RewardLearning, changed_fields, config_from_changes,
                     param, register)


def _policy_trainers() -> list[str]:
    return sorted(name for name, cls in ALGORITHMS.load_all().items() if cls.trains_policy)


@register("irl")
class InverseRLReward(RewardLearning):
    """Reward extraction by max-margin inverse RL (Joselowitz et al. 2024, arXiv:2410.12491, §2.2 and
    Algorithm 1): "what did this policy learn to want?"

    The demonstrations are the trained policy's samples o⁺ and the reference's samples o⁻ on the same
    train prompts (the policy of algorithm ``policy`` at the cell's seed and setting, at its defaults
    with ``policy_config`` applied; both sampled with the suite's sampler). A reward model r̂ (the
    family's adapter and scalar head) minimises f(r̂(o⁺) − r̂(o⁻)) so that the policy's behaviour scores above the reference's:

    - ``max_margin``, the paper's loss as its released code writes it (``get_irl_loss``):
      f(Δ) = −Δ for Δ > 0 and −2Δ for Δ < 0, a margin pushed up without bound, twice as hard where the
      reference's sample is ahead;
    - ``logistic``: f(Δ) = −log σ(Δ), the Bradley–Terry loss (Ouyang et al. 2022, Eq. 1) on the same
      demonstrations.

    The extracted r̂ is then judged like every reward learner, on the held-out pairs against the gold
    reward, and, being a registered reward learner, can train PPO (``--set ppo.reward_learner=irl``).
    Rewards and losses share one shape, ``(batch,)``; ``labels`` (the family's soft labels) are ones.
    """

    paper = "Joselowitz et al. 2024, arXiv:2410.12491"
    extracts_policy = True

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = None
        alpha: float = param(1e-3, gt=0)
        """α, the reward model's step size (the loop's learning rate)."""
        policy: str = param("dpo", choices=_policy_trainers)
        """The algorithm whose trained policy the reward is extracted from."""
        loss: str = param("max_margin", choices=("max_margin", "logistic"))
        """f: the paper's asymmetric max-margin loss, or the logistic (Bradley–Terry) one."""
        policy_config: str = param("", omit_default=True)
        """The policy's Config fields that differ from its defaults, a JSON object ('{"reward_learner": "ids"}'); a run that includes the policy with --set fills it in."""

        def __post_init__(self) -> None:
            super().__post_init__()
            # validated against the policy's Config and written one way: one policy config, one hash
            object.__setattr__(self, "policy_config", changed_fields(self.policy_settings()))

        def policy_settings(self) -> AlgorithmConfig:
            """The Config of the policy whose samples are the demonstrations."""
            return config_from_changes(ALGORITHMS.get(self.policy).Config, self.policy_config,
                                       self._where("policy_config"))

    @property
    def learning_rate(self) -> float:
        return self.config.alpha

    def loss(self, reward_chosen: Tensor, reward_rejected: Tensor, labels: Tensor) -> LossOutput:
        margin = reward_chosen - reward_rejected  # r̂(o⁺) − r̂(o⁻)
        if self.config.loss == "logistic":
            losses = -F.logsigmoid(margin)
        else:
            losses = torch.where(margin > 0, -margin, -2 * margin)
        return LossOutput(losses, {"margin": margin.detach()})
