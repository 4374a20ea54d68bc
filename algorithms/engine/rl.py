"""The RL-with-reward family's loop for language models, on one quantized base.

The policy is the trained adapter; a critic (for algorithms that declare ``uses_critic``) is another
adapter with a scalar head, and the reward model a third; π_ref is the base with every adapter
disabled. Each iteration: take the next prompts; sample ``samples_per_prompt`` responses to each from
the policy (a group, consecutive rows); with no gradients, read π_old's and π_ref's per-token
log-probs and the scores (a ``RewardModel``, or any callable scoring texts, such as a gold reward);
the algorithm turns them into per-token rewards, then (with the critic's values where it has one)
advantages and returns; ``epochs`` passes over minibatches take optimiser steps. With a critic, the
policy's and the critic's losses are backpropagated separately (the other's output detached), so the
critic never reaches the policy's gradient; one global gradient-norm clip (``TrainSettings``) and one
step follow. Proxy score, gold reward (when given) and KL are recorded per iteration: the
overoptimisation curve of Gao, Schulman & Hilton 2022.

Every iteration samples ``responses_per_iteration`` responses, so algorithms with groups of k see
responses / k prompts an iteration and every RL algorithm pays the same generation budget.

Data-parallel under ``accelerate launch``: an iteration's sampling is split across the processes by
generation batch and gathered, so every process holds the whole rollout; each then scores it and reads
its log-probs (the same few forward passes everywhere, cheaper than sending them) and computes the same
advantages over the whole batch — group baselines and whitening see every response, as in one process.
Each process backpropagates its share of every minibatch and the gradients are averaged across them
before the one clip and step, so a step sees the global minibatch. (A loss normalised by its minibatch's
token count, such as GRPO's ``dapo``, is normalised by each share's count.)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from prefzoo.algorithms.engine import along_training
from prefzoo.algorithms.engine.data import collate_sequences, prompt_token_ids
from prefzoo.algorithms.engine.generation import sample_everywhere, split_batch_size
from prefzoo.algorithms.engine.logprobs import response_start, response_token_logps
from prefzoo.algorithms.engine.memory import PeakMemory
from prefzoo.algorithms.engine.models import ModelSettings, eval_mode, reference_mode
from prefzoo.algorithms.engine.pairwise import TrainResult, TrainSettings
from prefzoo.algorithms.engine.processes import average_gradients, mean_across, process_share, processes
from prefzoo.algorithms.engine.reward_model import Critic, RewardModel
from prefzoo.algorithms.framework.base import RLWithReward, Rollout

Scorer = RewardModel | Callable[[list[str]], torch.Tensor]
"""What scores a rollout: a reward model on the tokens, or a function of the response texts."""


@dataclass(frozen=True)
class RLSettings:
    """How the RL loop spends an iteration (``TrainSettings.steps`` iterations make a run). The LM suites
    size each rollout and minibatch from the training settings when a cell runs (``runners.run_rl``:
    the batch, and ``steps_per_rollout`` or the micro batch), so a result's recorded
    ``responses_per_iteration`` and ``minibatch_size`` are these defaults, not what its loop used."""

    responses_per_iteration: int = 8
    """Responses sampled an iteration: responses / samples_per_prompt prompts."""
    epochs: int = 1
    """Passes over each iteration's rollouts."""
    minibatch_size: int = 8
    """Responses per optimiser step."""
    max_new_tokens: int = 24
    temperature: float = 1.0
    generation_batch_size: int = 64
    steps_per_rollout: int = 0
    """Where set, the suites' minibatches: optimiser steps per rollout and epoch, each on an equal share of its
    responses. The first step is on-policy (π = π_old, every importance ratio 1); the later ones are not, π
    having moved since the rollout was sampled, and only there do clipping, soft gates and importance weights
    act. 0: minibatches of the training micro batch."""

    def to_dict(self) -> dict:
        values = asdict(self)
        if not self.steps_per_rollout:  # written only where taken: results from before it existed had none
            del values["steps_per_rollout"]
        return values


@dataclass
class RLResult(TrainResult):
    generated_tokens: int = 0
    reward_model_queries: int = 0
    curve: list[dict[str, float]] = field(default_factory=list)
    """Per iteration: proxy (reward-model) score, gold reward, KL(π‖π_ref) per response and its root."""


def _prompt_batches(n_prompts: int, per_iteration: int, iterations: int, generator: torch.Generator) -> list[list[int]]:
    """Shuffled epochs over the prompts, cut into ``iterations`` batches of ``per_iteration``."""
    order: list[int] = []
    while len(order) < per_iteration * iterations:
        order += torch.randperm(n_prompts, generator=generator).tolist()
    return [order[i * per_iteration:(i + 1) * per_iteration] for i in range(iterations)]


def _score(scorer: Scorer, batch: dict[str, torch.Tensor], texts: list[str]) -> torch.Tensor:
    if isinstance(scorer, RewardModel):
        return scorer.score(batch).float()
    return torch.as_tensor(scorer(texts), dtype=torch.float32, device=batch["input_ids"].device)


def _make_critic(algorithm: RLWithReward, model, scorer: Scorer, model_settings: ModelSettings, seed: int):
    if not algorithm.uses_critic:
        return None
    if algorithm.critic_from_reward_model:
        if not isinstance(scorer, RewardModel):
            raise ValueError(f"{algorithm.name}: the critic starts from the reward model, but the rollouts are "
                             "scored by a function, not a RewardModel")
        return Critic.from_reward_model(scorer, model_settings)
    return Critic.create(model, model_settings, adapter="value", seed=seed)


def _rescale_critic(critic: Critic, mean: float, std: float) -> None:
    """w ← w/σ, b ← (b − μ)/σ: a critic copied from the reward model predicts the score on the scale the
    rewards use (normalised by μ, σ), not the reward model's raw scale."""
    with torch.no_grad():
        critic.head.weight.div_(std)
        critic.head.bias.sub_(mean).div_(std)


def train_rl(algorithm: RLWithReward, model, tokenizer, prompts: Sequence[Any], scorer: Scorer,
             model_settings: ModelSettings, settings: TrainSettings, rl: RLSettings = RLSettings(),
             gold: Callable[[list, list[str]], torch.Tensor] | None = None,
             progress: Callable[[int, int], None] | None = None) -> RLResult:
    """``settings.steps`` iterations of ``algorithm`` on ``model``'s policy adapter against ``scorer``."""
    if (requirement := algorithm.pretraining_data_requirement()) is not None:
        raise ValueError(f"{algorithm.name}: {requirement}, but this loop has no pretraining corpus to mix in")
    k = algorithm.samples_per_prompt
    if rl.responses_per_iteration % k:
        raise ValueError(f"{algorithm.name}: responses_per_iteration = {rl.responses_per_iteration} is not a "
                         f"multiple of its samples_per_prompt = {k}")
    device = next(model.parameters()).device
    torch.manual_seed(settings.seed)
    critic = _make_critic(algorithm, model, scorer, model_settings, settings.seed)
    policy_params = [p for n, p in model.named_parameters() if f".{model.active_adapter}." in n]
    critic_params = critic.parameters() if critic is not None else []
    optimizer = torch.optim.AdamW(policy_params + critic_params, lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    pad = tokenizer.pad_token_id
    generator = torch.Generator().manual_seed(settings.seed)
    batches = _prompt_batches(len(prompts), rl.responses_per_iteration // k, settings.steps, generator)
    history, curve, tokens, generated, queries = [], [], 0, 0, 0
    with PeakMemory(device) as memory:
        start_time = time.perf_counter()
        for it, picks in enumerate(batches):
            batch_prompts = [prompts[i] for i in picks]
            samples = sample_everywhere(model, tokenizer, batch_prompts, k, rl.max_new_tokens,
                                        split_batch_size(rl.generation_batch_size, k * len(batch_prompts)),
                                        seed=hash((settings.seed, it)) & 0x7FFF_FFFF, temperature=rl.temperature)
            completions = [s.completion_ids or [tokenizer.eos_token_id] for s in samples]
            texts = [s.text for s in samples]
            generated += sum(len(c) for c in completions)
            batch = {key: v.to(device) for key, v in collate_sequences(
                [prompt_token_ids(tokenizer, batch_prompts[s.prompt_index]) for s in samples], completions,
                pad).items()}
            with torch.no_grad(), eval_mode(model):
                old_logps, mask, _ = response_token_logps(model, batch)
                scores = _score(scorer, batch, texts)
                with reference_mode(model):
                    ref_logps, _, _ = response_token_logps(model, batch)
            queries += len(samples)
            rollout = Rollout(old_logps, ref_logps, scores, mask, group_size=k, max_tokens=rl.max_new_tokens)
            rewards = algorithm.token_rewards(rollout)
            if critic is not None:
                if it == 0 and algorithm.critic_from_reward_model:
                    _rescale_critic(critic, *algorithm.score_normalisation())
                with torch.no_grad(), eval_mode(model):
                    rollout = dataclasses.replace(rollout, values=critic.values(batch))
            advantages, returns = algorithm.advantages(rollout, rewards)
            kl = ((old_logps - ref_logps) * mask).sum(1)
            point = {"iteration": it, "proxy_score": scores.mean().item(), "kl": kl.mean().item(),
                     "sqrt_kl": kl.mean().clamp(min=0).sqrt().item()}
            if gold is not None:
                sampled_prompts = [batch_prompts[s.prompt_index] for s in samples]
                point["gold_reward"] = float(gold(sampled_prompts, texts).float().mean())
            curve.append(point)
            start = response_start(batch)  # a minibatch's columns: those of the whole rollout
            model.train()
            for _ in range(rl.epochs):
                shuffled = torch.randperm(len(samples), generator=generator).tolist()
                for mb in range(0, len(shuffled), rl.minibatch_size):
                    rows = process_share(shuffled[mb:mb + rl.minibatch_size])
                    sub = {key: v[rows] for key, v in batch.items()}
                    old = rollout.rows(rows)
                    logps, _, entropy = response_token_logps(model, sub, algorithm.uses_entropy, start)
                    policy_out = algorithm.loss(logps, old.values, old, advantages[rows], returns[rows], entropy)
                    policy_out.loss.backward()  # the critic's output enters detached: no path to the policy
                    entry = {"step": len(history) + 1, "loss": policy_out.loss.item(),
                             **{key: v.float().mean().item() for key, v in policy_out.metrics.items()
                                if key != "value_loss"}}
                    if critic is not None:
                        new_values = critic.values(sub, start)
                        with critic.active():
                            critic_out = algorithm.loss(logps.detach(), new_values, old, advantages[rows],
                                                        returns[rows])
                            critic_out.loss.backward()  # with the critic's adapter trainable while it runs
                        entry["value_loss"] = critic_out.metrics["value_loss"].float().mean().item()
                    average_gradients(policy_params + critic_params)
                    if settings.max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(policy_params + critic_params, settings.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    # the whole data-parallel minibatch's history and tokens (one process: unchanged)
                    shared = mean_across({**entry, "tokens": float(sub["attention_mask"].sum())})
                    tokens += round(shared.pop("tokens") * processes())
                    history.append({**shared, "step": entry["step"]})
            if progress is not None:
                progress(it + 1, settings.steps)
            along_training.reached(it + 1, model)
        wall = time.perf_counter() - start_time
    if critic is not None:
        model.delete_adapter(critic.adapter)
    return RLResult(history, wall, tokens, memory.peak, generated, queries, curve)
