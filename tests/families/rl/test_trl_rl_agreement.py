"""prefzoo's critic-free RL against TRL 1.16, driving TRL's own code on the same random rollouts.

GRPO: ``GRPOTrainer._compute_loss`` for every loss type of TRL 1.16 (``grpo``, ``dr_grpo``, ``dapo``,
``bnpo``, ``cispo``, ``sapo``, ``luspo``, ``vespo``), at token and sequence importance-sampling level and
with the off-policy mask, and for each named variant (``gspo``, ``cispo``, ...) at its paper's settings,
through the harness of ``prefzoo.benchmarks.studies.trl_rl_agreement`` (which prints the largest
differences per variant). We compare the loss and its gradient with respect to every per-token log-prob.

RLOO: ``RLOOTrainer._generate_and_score_completions`` computes the advantages (score − β·Σ_t k1 KL,
leave-one-out baseline); generation, log-prob and reward calls are stubbed with the same tensors, and
its output's ``advantages`` are compared with prefzoo's. Its sequence-level clipped loss is compared
through ``RLOOTrainer._compute_loss`` the same way as GRPO's.
"""

from __future__ import annotations

import types

import pytest
import torch

from prefzoo.algorithms.framework.base import Rollout
from prefzoo.registry import ALGORITHMS

trl = pytest.importorskip("trl")
from accelerate import Accelerator  # noqa: E402
from trl import RLOOConfig, RLOOTrainer  # noqa: E402

from prefzoo.benchmarks.studies.trl_rl_agreement import (  # noqa: E402
    B, G, NAMED, T, VARIANTS, advantage_gap, compare_with_trl, grpo_trainer, loss_type_gap,
    named_variant_gap, random_rollout, scoring_state)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("correction", [False, True], ids=["k3", "k3-ratio-corrected"])
@pytest.mark.parametrize("loss_type,beta", [("grpo", 0.04), ("grpo", 0.0), ("dr_grpo", 0.04), ("dapo", 0.04)])
def test_grpo_losses_and_gradients_match_trl(loss_type, beta, correction, seed, tmp_path):
    assert trl.__version__.startswith("1.16"), f"the oracle is TRL 1.16; installed {trl.__version__}"
    grpo = ALGORITHMS.get("grpo")
    algorithm = grpo(grpo.Config(loss_type=loss_type, beta=beta, samples_per_prompt=G, kl_ratio_correction=correction))
    trainer = grpo_trainer(loss_type, beta, 0.2, algorithm.clip_high, correction, str(tmp_path))
    loss_gap, grad_gap = compare_with_trl(algorithm, trainer, seed)
    assert loss_gap < 1e-5 and grad_gap < 1e-5, (loss_gap, grad_gap)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("loss_type,level,beta,delta", VARIANTS)
def test_every_trl_loss_type_matches_trl(loss_type, level, beta, delta, seed, tmp_path):
    """The loss and its gradient within 1e-5 of TRL's on random rollouts; new log-probs far enough from
    the old ones (noise 0.3 per token) that clipping, the soft gate, the Gamma weights and the mask bind."""
    assert trl.__version__.startswith("1.16"), f"the oracle is TRL 1.16; installed {trl.__version__}"
    loss_gap, grad_gap = loss_type_gap(loss_type, level, beta, delta, seed, str(tmp_path))
    assert loss_gap < 1e-5 and grad_gap < 1e-5, (loss_gap, grad_gap)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", NAMED)
def test_every_named_variant_matches_trl_at_its_papers_settings(name, seed, tmp_path):
    assert trl.__version__.startswith("1.16"), f"the oracle is TRL 1.16; installed {trl.__version__}"
    loss_gap, grad_gap = named_variant_gap(name, seed, str(tmp_path))
    assert loss_gap < 1e-5 and grad_gap < 1e-5, (loss_gap, grad_gap)


def _rloo_trainer(beta: float, tmp_path) -> RLOOTrainer:
    args = RLOOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, beta=beta, num_generations=G,
                      per_device_train_batch_size=B, max_completion_length=T, report_to=[])
    trainer = RLOOTrainer.__new__(RLOOTrainer)
    trainer.__dict__.update(
        args=args, accelerator=Accelerator(cpu=True), beta=args.beta, num_generations=G, num_generations_eval=G,
        normalize_advantages=args.normalize_advantages, reward_clip_range=None, reward_weights=torch.ones(1),
        reward_func_names=["score"], mask_truncated_completions=False, pad_to_multiple_of=None,
        **scoring_state(), ref_model=object(),
        epsilon_low=args.epsilon, epsilon_high=args.epsilon_high if args.epsilon_high is not None else args.epsilon,
        aux_loss_enabled=False, use_vllm=False,
        chat_template_kwargs={}, model=types.SimpleNamespace(training=True, is_gradient_checkpointing=False))
    return trainer


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("beta", [0.05, 0.0])
def test_rloo_advantages_and_loss_match_trl(beta, seed, tmp_path):
    assert trl.__version__.startswith("1.16"), f"the oracle is TRL 1.16; installed {trl.__version__}"
    mask, old, ref, new, scores = random_rollout(seed)
    trainer = _rloo_trainer(beta, tmp_path)
    lengths = mask.sum(1).tolist()
    trainer._generate = lambda prompts: ([[1, 2]] * B, [[5] * n for n in lengths], ["text"] * B)
    trainer._get_per_token_logps_and_entropies = (
        lambda model, *a, **k: (ref if model is trainer.ref_model else old, None, None))
    trainer._calculate_rewards = lambda *a, **k: scores[:, None].clone()
    out = trainer._generate_and_score_completions([{"prompt": "p"}] * B)

    rloo = ALGORITHMS.get("rloo")
    algorithm = rloo(rloo.Config(beta=beta, samples_per_prompt=G))
    rollout = Rollout(old, ref, scores, mask.float(), group_size=G)
    advantages, returns = algorithm.advantages(rollout, algorithm.token_rewards(rollout))
    assert torch.allclose(advantages[:, 0], out["advantages"], atol=1e-5, rtol=1e-5)

    per_token = new.clone().requires_grad_(True)
    trainer._get_per_token_logps_and_entropies = lambda *a, **k: (per_token, torch.zeros(B, T), None)
    trl_loss = trainer._compute_loss(None, out)
    trl_grad, = torch.autograd.grad(trl_loss, per_token)
    ours_logps = new.clone().requires_grad_(True)
    ours = algorithm.loss(ours_logps, None, rollout, advantages, returns).loss
    our_grad, = torch.autograd.grad(ours, ours_logps)
    assert abs(ours.item() - trl_loss.item()) < 1e-5, (ours.item(), trl_loss.item())
    assert torch.allclose(our_grad, trl_grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", ["grpo", "cispo"])
@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_reward_scaling_matches_trl(scale, name, seed, tmp_path):
    """scale_rewards: each score minus its group's mean, over the group's std, the batch's, or none, as
    GRPOTrainer._generate_and_score_completions computes the advantages."""
    assert trl.__version__.startswith("1.16"), f"the oracle is TRL 1.16; installed {trl.__version__}"
    assert advantage_gap(name, scale, seed, str(tmp_path)) < 1e-5
