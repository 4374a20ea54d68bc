"""Where the named critic-free variants are the same algorithm: on-policy.

With one optimiser step per rollout (π = π_old when the loss is taken, every ratio 1), clipping, soft
gates and importance weights act only through their slope at ratio 1, and that slope is 1 for each of
them: DAPO's clipped ratio, VESPO's Gamma weight (φ(1) = 1, no gradient), SAPO's gate (4σ'(0) = 1) and
GSPO's sequence ratio (∂s/∂log π_t = 1/|y|) all give Â·∇log π, so the variants differ only in how they
aggregate tokens and scale rewards. DAPO and VESPO (both over the batch's tokens) and GSPO and SAPO
(both per response, then the batch) then have the same gradient, and train the same policy, although
the losses they log differ. Off-policy (later minibatches of a rollout, or a stale sampler) they part.
"""

from __future__ import annotations

import pytest
import torch

from prefzoo.algorithms.framework.base import Rollout
from prefzoo.benchmarks.studies.trl_rl_agreement import G, T, random_rollout
from prefzoo.registry import ALGORITHMS

SAME_ON_POLICY = [("dapo", "vespo"), ("gspo", "sapo")]
DISTINCT_ON_POLICY = ["dapo", "gspo", "dr-grpo", "cispo", "luspo"]


def loss_and_gradient(name: str, seed: int, on_policy: bool) -> tuple[float, torch.Tensor]:
    """``name``'s loss and its gradient w.r.t. the per-token log-probs on one random rollout, taken at
    π_old's log-probs (on-policy) or at log-probs 0.3·N(0, 1) per token away from them."""
    mask, old, ref, new, scores = random_rollout(seed)
    rollout = Rollout(old, ref, scores, mask.float(), group_size=G, max_tokens=T)
    cls = ALGORITHMS.get(name)
    algorithm = cls(cls.Config(samples_per_prompt=G))
    advantages, returns = algorithm.advantages(rollout, algorithm.token_rewards(rollout))
    logprobs = (old if on_policy else new).clone().requires_grad_(True)
    loss = algorithm.loss(logprobs, None, rollout, advantages, returns).loss
    gradient, = torch.autograd.grad(loss, logprobs)
    return loss.item(), gradient


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("a,b", SAME_ON_POLICY)
def test_on_policy_the_pair_has_one_gradient_but_different_losses(a, b, seed):
    loss_a, grad_a = loss_and_gradient(a, seed, on_policy=True)
    loss_b, grad_b = loss_and_gradient(b, seed, on_policy=True)
    assert grad_a.abs().max() > 1e-3
    assert torch.allclose(grad_a, grad_b, atol=1e-7)
    assert abs(loss_a - loss_b) > 1e-3  # the logged losses differ: the histories do not show it


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("a,b", SAME_ON_POLICY)
def test_off_policy_the_pair_parts(a, b, seed):
    _, grad_a = loss_and_gradient(a, seed, on_policy=False)
    _, grad_b = loss_and_gradient(b, seed, on_policy=False)
    assert (grad_a - grad_b).abs().max() > 1e-3


@pytest.mark.parametrize("seed", [0, 1])
def test_on_policy_the_aggregations_and_scalings_differ(seed):
    gradients = {name: loss_and_gradient(name, seed, on_policy=True)[1] for name in DISTINCT_ON_POLICY}
    for i, a in enumerate(DISTINCT_ON_POLICY):
        for b in DISTINCT_ON_POLICY[i + 1:]:
            assert (gradients[a] - gradients[b]).abs().max() > 1e-3, (a, b)
