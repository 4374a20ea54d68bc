"""Critic-free RL against TRL 1.16: the largest loss and gradient differences per GRPO variant.

Run: ``python -m prefzoo.benchmarks.studies.trl_rl_agreement [--seeds 5]``. Prints a Markdown table, one
row per loss type of TRL 1.16's ``GRPOConfig`` (at token and sequence importance-sampling level, with
the off-policy mask, with a binding cispo cap) and per named variant at its paper's settings (``gspo``,
``dapo``, ``dr-grpo``, ``cispo``, ``sapo``, ``luspo``, ``vespo``): over ``--seeds`` random rollouts,
max |Δ loss| and max |Δ ∂loss/∂log π(token)| between prefzoo's loss and ``GRPOTrainer._compute_loss``.
Then the advantages at each ``scale_rewards`` (group, batch, none) against
``GRPOTrainer._generate_and_score_completions``: max |Δ advantage|.
``tests/families/rl/test_trl_rl_agreement.py`` asserts the same comparisons below 1e-5 on two seeds.

How TRL is driven: a trainer is built around a real ``GRPOConfig`` without model or dataset set-up,
and its per-token log-probs come from a stub of ``_get_per_token_logps_and_entropies`` returning
tensors we choose, so TRL's loss code runs as it is: ``grpo`` averages each completion's tokens
(``completion_mask``) then the batch, ``dr_grpo`` divides the masked token sum by batch ×
``max_completion_length``, ``dapo`` (and ``bnpo``, ``cispo``, ``vespo``) by ``num_items_in_batch`` (the
batch's completion tokens, one process, no accumulation). New log-probs sit far enough from the old
ones (noise 0.3 per token) that clipping, the soft gate, the Gamma weights and the mask bind.
"""

from __future__ import annotations

import argparse
import tempfile
import types
from collections import defaultdict

import torch
import trl
from accelerate import Accelerator
from trl import GRPOConfig, GRPOTrainer

from prefzoo.algorithms.framework.base import Rollout
from prefzoo.registry import ALGORITHMS

G, PROMPTS, T = 4, 3, 7
"""Samples per prompt, prompts, completion tokens: a rollout is ``B = G · PROMPTS`` rows of ``T`` tokens."""
B = G * PROMPTS

VARIANTS = [  # (loss type, importance-sampling level, β, off-policy mask δ or cispo's cap): every loss of TRL 1.16
    ("bnpo", "token", 0.04, None), ("cispo", "token", 0.0, None), ("cispo", "token", 0.04, None),
    ("cispo", "sequence", 0.0, None), ("cispo", "token", 0.0, "cap 1.1"),
    ("sapo", "token", 0.0, None), ("sapo", "token", 0.04, None), ("luspo", "sequence", 0.0, None),
    ("vespo", "token", 0.0, None), ("vespo", "token", 0.04, None), ("grpo", "sequence", 0.0, None),
    ("grpo", "sequence", 0.04, None), ("grpo", "token", 0.04, 0.05), ("dapo", "token", 0.0, 0.05)]

NAMED = ("gspo", "dapo", "dr-grpo", "cispo", "sapo", "luspo", "vespo")
"""The methods the literature names, each registered with its paper's settings."""


def random_rollout(seed: int):
    """(completion mask, old, reference and new per-token log-probs, scores): mask and log-probs [B, T],
    scores [B]; completion lengths uniform in 1..T."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None] < lengths[:, None]).long()
    old = -torch.rand(B, T, generator=g) * 3 * mask
    ref = old + torch.randn(B, T, generator=g) * 0.3 * mask
    new = (old + torch.randn(B, T, generator=g) * 0.3 * mask)
    scores = torch.randn(B, generator=g)
    return mask, old, ref, new, scores


def empty_metrics():
    return {"train": defaultdict(list), "eval": defaultdict(list)}


def scoring_state() -> dict:
    """The logging state a TRL trainer's ``_generate_and_score_completions`` writes into, for a trainer
    built without ``__init__`` (GRPO's and RLOO's)."""
    return dict(_tokenizer=types.SimpleNamespace(pad_token_id=0), _metrics=empty_metrics(),
                _logs={"prompt": [], "completion": [], "rewards": defaultdict(list), "advantages": [],
                       "extra": defaultdict(list), "images": []},
                _pending_extra_logs={}, _pending_metrics={}, log_multimodal=False)


def grpo_trainer(loss_type: str, beta: float, eps_low: float, eps_high: float, correction: bool,
                 output_dir: str, level: str = "token", mask_threshold: float | None = None) -> GRPOTrainer:
    """A ``GRPOTrainer`` whose ``_compute_loss`` runs on a real ``GRPOConfig``, without model or data."""
    args = GRPOConfig(output_dir=output_dir, use_cpu=True, bf16=False, loss_type=loss_type, beta=beta,
                      use_bias_correction_kl=correction, importance_sampling_level=level,
                      epsilon=eps_low, epsilon_high=eps_high, max_completion_length=T, num_generations=G,
                      per_device_train_batch_size=B, report_to=[], off_policy_mask_threshold=mask_threshold)
    trainer = GRPOTrainer.__new__(GRPOTrainer)
    trainer.__dict__.update(
        args=args, accelerator=Accelerator(cpu=True), loss_type=args.loss_type, beta=args.beta,
        epsilon_low=args.epsilon, epsilon_high=args.epsilon_high, top_entropy_quantile=args.top_entropy_quantile,
        off_policy_mask_threshold=mask_threshold, importance_sampling_level=level, use_vllm=False,
        aux_loss_enabled=False, _metrics=empty_metrics(), current_gradient_accumulation_steps=1,
        _entropy_bonus_enabled=False, max_completion_length=args.max_completion_length,
        model=types.SimpleNamespace(training=True))
    return trainer


def compare_with_trl(algorithm, trainer, seed: int) -> tuple[float, float]:
    """Loss and gradient with respect to the per-token log-probs, prefzoo's against TRL's on one random
    rollout: (|Δ loss|, max |Δ gradient|); asserts TRL's gradient is not zero."""
    mask, old, ref, new, scores = random_rollout(seed)
    rollout = Rollout(old, ref, scores, mask.float(), group_size=G, max_tokens=T)
    advantages, returns = algorithm.advantages(rollout, algorithm.token_rewards(rollout))
    per_token = new.clone().requires_grad_(True)
    trainer._get_per_token_logps_and_entropies = lambda *a, **k: (per_token, torch.zeros(B, T), None)
    inputs = dict(prompt_ids=torch.zeros(B, 2, dtype=torch.long), prompt_mask=torch.ones(B, 2, dtype=torch.long),
                  completion_ids=torch.zeros(B, T, dtype=torch.long), completion_mask=mask,
                  advantages=advantages.sum(1) / mask.sum(1), old_per_token_logps=old, ref_per_token_logps=ref,
                  num_items_in_batch=mask.sum())
    trl_loss = trainer._compute_loss(None, inputs)
    trl_grad, = torch.autograd.grad(trl_loss, per_token)
    ours_logps = new.clone().requires_grad_(True)
    ours = algorithm.loss(ours_logps, None, rollout, advantages, returns).loss
    our_grad, = torch.autograd.grad(ours, ours_logps)
    assert trl_grad.abs().sum() > 0
    return abs(ours.item() - trl_loss.item()), float((our_grad - trl_grad).abs().max())


def loss_type_gap(loss_type: str, level: str, beta: float, delta, seed: int, output_dir: str) -> tuple[float, float]:
    """``grpo`` at one row of ``VARIANTS`` against TRL; ``delta`` a float is the off-policy mask's δ, and
    ``"cap c"`` sets cispo's weight cap (prefzoo's ``epsilon_high``) to c, low enough to bind here."""
    grpo = ALGORITHMS.get("grpo")
    cap = isinstance(delta, str)
    algorithm = grpo(grpo.Config(loss_type=loss_type, beta=beta, samples_per_prompt=G, importance_sampling_level=level,
                                 off_policy_mask_threshold=-1.0 if delta is None or cap else delta,
                                 epsilon_high=float(delta.split()[1]) if cap else -1.0))
    trainer = grpo_trainer(loss_type, beta, 0.2, algorithm.clip_high, False, output_dir, level,
                           None if cap else delta)
    return compare_with_trl(algorithm, trainer, seed)


def named_variant_gap(name: str, seed: int, output_dir: str) -> tuple[float, float]:
    """A named variant at its paper's settings (its registered defaults) against TRL at the same settings."""
    cls = ALGORITHMS.get(name)
    algorithm = cls(cls.Config(samples_per_prompt=G))
    c = algorithm.config
    trainer = grpo_trainer(c.loss_type, c.beta, c.epsilon_low, algorithm.clip_high, c.kl_ratio_correction,
                           output_dir, c.importance_sampling_level)
    return compare_with_trl(algorithm, trainer, seed)


def advantage_gap(name: str, scale: str, seed: int, output_dir: str) -> float:
    """max |Δ advantage| between ``name`` with ``scale_rewards=scale`` (group, batch or none) and
    ``GRPOTrainer._generate_and_score_completions`` on the same scores; TRL's generation and reward
    calls return the rollout's tensors, and β = 0 so that no reference forward is asked for."""
    mask, old, ref, _, scores = random_rollout(seed)
    args = GRPOConfig(output_dir=output_dir, use_cpu=True, bf16=False, beta=0.0, scale_rewards=scale,
                      num_generations=G, per_device_train_batch_size=B, max_completion_length=T, report_to=[])
    trainer = GRPOTrainer.__new__(GRPOTrainer)
    trainer.__dict__.update(
        args=args, accelerator=Accelerator(cpu=True), beta=0.0, scale_rewards=scale, num_generations=G,
        num_generations_eval=G, num_iterations=args.num_iterations, use_vllm=False, environment_factories=None,
        environments=None, tools=None, pad_to_multiple_of=None, mask_truncated_completions=False,
        multi_objective_aggregation=args.multi_objective_aggregation, reward_weights=torch.ones(1),
        reward_func_names=["score"], **scoring_state(),
        model=types.SimpleNamespace(training=True, is_gradient_checkpointing=False))
    lengths = mask.sum(1).tolist()
    trainer._generate = lambda prompts: ([[1, 2]] * B, [[5] * n for n in lengths], None, ["text"] * B, None, {},
                                         None, None)
    trainer._calculate_rewards = lambda *a, **k: scores[:, None].clone()
    trl_advantages = trainer._generate_and_score_completions([{"prompt": "p"}] * B)["advantages"]
    cls = ALGORITHMS.get(name)
    algorithm = cls(cls.Config(samples_per_prompt=G, scale_rewards=scale))
    rollout = Rollout(old, ref, scores, mask.float(), group_size=G, max_tokens=T)
    advantages, _ = algorithm.advantages(rollout, algorithm.token_rewards(rollout))
    return float((advantages.sum(1) / mask.sum(1) - trl_advantages).abs().max())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="random rollouts per row")
    seeds = range(parser.parse_args(argv).seeds)
    print(f"prefzoo against TRL {trl.__version__}'s GRPOTrainer._compute_loss, max over {len(seeds)} random rollouts "
          f"of {B} completions × {T} tokens\n")
    print("| variant | max Δ loss | max Δ gradient |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as output_dir:
        for loss_type, level, beta, delta in VARIANTS:
            gaps = [loss_type_gap(loss_type, level, beta, delta, seed, output_dir) for seed in seeds]
            label = f"grpo loss_type={loss_type}, {level} level, β={beta}" + (
                "" if delta is None else f", {delta}" if isinstance(delta, str) else f", mask δ={delta}")
            print(f"| {label} | {max(g[0] for g in gaps):.1e} | {max(g[1] for g in gaps):.1e} |")
        for name in NAMED:
            gaps = [named_variant_gap(name, seed, output_dir) for seed in seeds]
            print(f"| {name} (its paper's settings) | {max(g[0] for g in gaps):.1e} | {max(g[1] for g in gaps):.1e} |")
        print("\n| advantages, scale_rewards | max Δ advantage |\n|---|---|")
        for scale in ("group", "batch", "none"):
            gap = max(advantage_gap("grpo", scale, seed, output_dir) for seed in seeds)
            print(f"| {scale} | {gap:.1e} |")


if __name__ == "__main__":
    main()
