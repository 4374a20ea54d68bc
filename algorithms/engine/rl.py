"""The RL-with-reward family's loop for language models: PPO-RLHF on one quantized base.

Policy, critic and reward model are three adapters on the same base (the critic and the reward model
with scalar heads); π_ref is the base with every adapter disabled. Each iteration: sample responses
to the next prompts from the policy; with no gradients, read the policy's per-token log-probs π_old,
π_ref's, the critic's values and the reward model's scores; the algorithm turns them into per-token
rewards, advantages and returns; then ``ppo_epochs`` passes over minibatches take optimiser steps.
The policy's and the critic's losses are backpropagated separately (the other's output detached), so
the critic never reaches the policy's gradient, and both then step together under one global
gradient-norm clip. Proxy reward, gold reward (when given) and KL are recorded per iteration: the
overoptimisation curve of Gao, Schulman & Hilton 2022.

Single-process: rollouts are not sharded across ``accelerate launch`` ranks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from prefzoo.algorithms.base import RLWithReward, Rollout
from prefzoo.algorithms.engine.data import collate_sequences, prompt_token_ids, response_token_logps
from prefzoo.algorithms.engine.generation import sample_responses
from prefzoo.algorithms.engine.memory import PeakMemory
from prefzoo.algorithms.engine.models import ModelSettings, eval_mode, reference_mode
from prefzoo.algorithms.engine.pairwise import TrainResult, TrainSettings
from prefzoo.algorithms.engine.reward_model import Critic, RewardModel


@dataclass(frozen=True)
class RLSettings:
    prompts_per_iteration: int = 8
    ppo_epochs: int = 1
    minibatch_size: int = 8
    max_new_tokens: int = 24
    temperature: float = 1.0
    generation_batch_size: int = 64

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RLResult(TrainResult):
    generated_tokens: int = 0
    reward_model_queries: int = 0
    curve: list[dict[str, float]] = field(default_factory=list)
    """Per iteration: proxy (reward-model) score, gold reward, KL(π‖π_ref) per response and its root."""


def _rollout_slice(rollout: Rollout, rows: list[int]) -> Rollout:
    return Rollout(*(getattr(rollout, f)[rows] for f in ("logprobs", "ref_logprobs", "values", "scores", "mask")))


def train_ppo(algorithm: RLWithReward, model, tokenizer, prompts: Sequence[Any], reward_model: RewardModel,
              model_settings: ModelSettings, settings: TrainSettings, rl: RLSettings = RLSettings(),
              gold: Callable[[list[str]], torch.Tensor] | None = None,
              progress: Callable[[int, int], None] | None = None) -> RLResult:
    """``settings.steps`` PPO iterations on ``model``'s policy adapter against ``reward_model``."""
    config = algorithm.config
    if getattr(config, "ptx_coef", 0.0):
        raise ValueError(f"{algorithm.name}: ptx_coef = {config.ptx_coef}, but this loop has no pretraining "
                         "corpus to mix in; use ptx_coef = 0")
    device = next(model.parameters()).device
    torch.manual_seed(settings.seed)
    critic = (Critic.from_reward_model(reward_model, model_settings) if config.critic_from_reward_model
              else Critic.create(model, model_settings, adapter="value", seed=settings.seed))
    policy_params = [p for n, p in model.named_parameters() if f".{model.active_adapter}." in n]
    critic_params = critic.parameters()
    optimizer = torch.optim.AdamW(policy_params + critic_params, lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    pad = tokenizer.pad_token_id
    generator = torch.Generator().manual_seed(settings.seed)
    order = torch.randperm(len(prompts), generator=generator).tolist()
    history, curve, tokens, generated, queries = [], [], 0, 0, 0
    with PeakMemory(device) as memory:
        start_time = time.perf_counter()
        for it in range(settings.steps):
            picks = [order[(it * rl.prompts_per_iteration + i) % len(order)] for i in range(rl.prompts_per_iteration)]
            batch_prompts = [prompts[i] for i in picks]
            samples = sample_responses(model, tokenizer, batch_prompts, 1, rl.max_new_tokens, rl.generation_batch_size,
                                       seed=hash((settings.seed, it)) & 0x7FFF_FFFF, temperature=rl.temperature)
            completions = [s.completion_ids or [tokenizer.eos_token_id] for s in samples]
            generated += sum(len(c) for c in completions)
            batch = {k: v.to(device) for k, v in collate_sequences(
                [prompt_token_ids(tokenizer, p) for p in batch_prompts], completions, pad).items()}
            with torch.no_grad(), eval_mode(model):
                old_logps, mask, _ = response_token_logps(model, batch)
                values = critic.values(batch)
                scores = reward_model.score(batch)
                with reference_mode(model):
                    ref_logps, _, _ = response_token_logps(model, batch)
            queries += len(samples)
            rollout = Rollout(old_logps, ref_logps, values, scores, mask)
            rewards = algorithm.token_rewards(rollout)
            advantages, returns = algorithm.advantages(rollout, rewards)
            kl = ((old_logps - ref_logps) * mask).sum(1)
            point = {"iteration": it, "proxy_score": scores.mean().item(), "kl": kl.mean().item(),
                     "sqrt_kl": kl.mean().clamp(min=0).sqrt().item()}
            if gold is not None:
                point["gold_reward"] = float(gold([s.text for s in samples]).float().mean())
            curve.append(point)
            model.train()
            for _ in range(rl.ppo_epochs):
                shuffled = torch.randperm(len(samples), generator=generator).tolist()
                for mb in range(0, len(shuffled), rl.minibatch_size):
                    rows = shuffled[mb:mb + rl.minibatch_size]
                    sub = {k: v[rows] for k, v in batch.items()}
                    old = _rollout_slice(rollout, rows)
                    logps, _, entropy = response_token_logps(model, sub, with_entropy=config.entropy_coef > 0)
                    policy_out = algorithm.loss(logps, old.values, old, advantages[rows], returns[rows], entropy)
                    policy_out.loss.backward()  # the critic's output enters detached: no path to the policy
                    new_values = critic.values(sub)
                    with critic.active():
                        critic_out = algorithm.loss(logps.detach(), new_values, old, advantages[rows], returns[rows])
                        critic_out.loss.backward()  # with the critic's adapter trainable while it runs
                    if config.max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(policy_params + critic_params, config.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    tokens += int(sub["attention_mask"].sum())
                    history.append({"step": len(history) + 1, "loss": policy_out.loss.item(),
                                    **{k: v.float().mean().item() for k, v in policy_out.metrics.items()
                                       if k != "value_loss"},
                                    "value_loss": critic_out.metrics["value_loss"].float().mean().item()})
            if progress is not None:
                progress(it + 1, settings.steps)
        wall = time.perf_counter() - start_time
    model.delete_adapter(critic.adapter)
    return RLResult(history, wall, tokens, memory.peak, generated, queries, curve)
