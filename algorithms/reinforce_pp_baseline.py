from dataclasses import dataclass

from torch import Tensor

from prefzoo import Rollout, param, register
from prefzoo.algorithms.ppo import kl_penalised_rewards
from prefzoo.algorithms.reinforce_pp import ReinforcePP


@register("reinforce-pp-baseline")
class ReinforcePPBaseline(ReinforcePP):
    """REINFORCE++-baseline (Hu 2025, the group-sampling variant of REINFORCE++, Eqs. 1–3 with a group
    baseline; OpenRLHF's ``advantage_estimator="reinforce_baseline"``): G responses per prompt, each
    score minus the mean score of its prompt's group (no division by the group's std, which the
    variance-reduction argument does not need and which biases toward easy prompts), then REINFORCE++'s
    per-token rewards r_t = −β·log π_old(y_t)/π_ref(y_t) plus the centred score on the last token, γ = 1
    returns, and the normalisation of every response token's return over the global batch,
    A ← (A − μ_batch)/σ_batch. Loss as ``reinforce-pp``, averaged over every response token of the batch
    (OpenRLHF's ``PolicyLoss`` with its default ``token_level_loss``). Rollout tensors ``(batch, T)``,
    batch = prompts × G; losses ``(batch,)``.
    """

    paper = "Hu 2025, arXiv:2501.03262"

    @dataclass(frozen=True)
    class Config(ReinforcePP.Config):
        samples_per_prompt: int = param(4, ge=2)
        """G, responses per prompt: the group whose mean score is the baseline."""
        gamma: float = param(1.0, gt=0, le=1)
        """γ, the discount of the returns (OpenRLHF sets 1 for this estimator)."""
        loss_aggregation: str = param("token", choices=("sequence", "token"))
        """token: every token of the batch averaged at once, as OpenRLHF's policy loss does."""

    def token_rewards(self, rollout: Rollout) -> Tensor:
        grouped = rollout.grouped(rollout.scores)
        centred = (grouped - grouped.mean(1, keepdim=True)).reshape(-1)
        return kl_penalised_rewards(centred, rollout.logprobs - rollout.ref_logprobs, self.config.kl_coef,
                                    rollout.mask)
