from dataclasses import dataclass

from prefzoo import AlgorithmConfig, LossOutput, OnlinePreference, PairLogps, PairOrigins, param, register
from prefzoo.algorithms.dpo import DPO


@register("online-dpo")
class OnlineDPO(OnlinePreference):
    """Online DPO (Guo et al. 2024, "Direct Language Model Alignment from Online AI Feedback", Algorithm 1).

    Each round both responses are sampled from the current policy, labelled by the oracle, and the
    policy takes the DPO step (Rafailov et al. 2023, Eq. 7) on those fresh, on-policy pairs only:
    loss = −log σ(β·h), h = log π(y_w)/π_ref(y_w) − log π(y_l)/π_ref(y_l). Inputs and losses share the
    shape of ``PairLogps``.
    """

    paper = "Guo et al. 2024, arXiv:2402.04792"
    samplers = ("policy", "policy")
    keeps_all_data = False

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the strength of the KL constraint to π_ref (DPO, Eq. 7)."""

    def loss(self, pairs: PairLogps, origins: PairOrigins, progress: float) -> LossOutput:
        return DPO(DPO.Config(beta=self.config.beta)).loss(pairs)
