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

from prefzoo.algorithms.framework.interface import Algorithm, Family, LossOutput
from prefzoo.algorithms.framework.online_family import OnlinePreference, PairOrigins, Sampler
from prefzoo.algorithms.framework.pairwise_family import PairLogps, Pairwise
from prefzoo.algorithms.framework.reward_family import RewardLearning
from prefzoo.algorithms.framework.rl_family import RewardModelChoice, RLWithReward, Rollout, reward_learners

__all__ = ["FAMILY_BASES", "Algorithm", "Family", "LossOutput", "OnlinePreference", "PairLogps", "PairOrigins",
           "Pairwise", "RLWithReward", "RewardLearning", "RewardModelChoice", "Rollout", "Sampler", "reward_learners"]

FAMILY_BASES: dict[Family, type[Algorithm]] = {
    Family.PAIRWISE: Pairwise,
    Family.ONLINE: OnlinePreference,
    Family.RL: RLWithReward,
    Family.REWARD: RewardLearning,
}
