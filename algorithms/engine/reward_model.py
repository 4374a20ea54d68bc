"""Reward models on the shared base: a LoRA adapter of their own plus a scalar head, and the
reward-learning family's loop (Bradley–Terry, Iterative Data Smoothing).

The base stays one quantized model in memory: the policy is adapter ``default``, a reward model is
another named adapter on the same LoRA-wrapped base, and π_ref is the base with every adapter
disabled. A reward model reads the decoder's last hidden state at each sequence's final token.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from prefzoo.algorithms.engine.data import collate_pairs
from prefzoo.algorithms.engine.memory import PeakMemory
from prefzoo.algorithms.engine.models import ModelSettings, eval_mode
from prefzoo.algorithms.engine.pairwise import StepLoop, TrainResult, TrainSettings, make_accelerator
from prefzoo.algorithms.framework.base import RewardLearning

HEAD_FILE = "reward_head.json"


class RewardModel:
    """r(x, y) = w·h_T + b: h_T the decoder's last hidden state at the final token of x ⊕ y (with the
    reward adapter active), w, b a scalar head. ``score(batch)`` maps a collated batch of N sequences
    ``(N, L)`` to rewards ``(N,)``."""

    def __init__(self, model, adapter: str, head: nn.Linear):
        self.model, self.adapter, self.head = model, adapter, head

    @classmethod
    def create(cls, model, settings: ModelSettings, adapter: str = "reward", seed: int = 0) -> RewardModel:
        """A fresh reward adapter and head (zero-initialised: every reward starts at 0) on ``model``."""
        from peft import LoraConfig

        torch.manual_seed(seed)
        model.add_adapter(adapter, LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                                              lora_dropout=settings.lora_dropout,
                                              target_modules=settings.target_modules, task_type="CAUSAL_LM"))
        hidden = model.get_base_model().config.hidden_size
        head = nn.Linear(hidden, 1).to(next(model.parameters()).device)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        return cls(model, adapter, head)

    @contextlib.contextmanager
    def active(self):
        """The reward adapter active (and the only trainable one) for the block, then the previous one."""
        previous = self.model.active_adapter
        self.model.set_adapter(self.adapter)
        try:
            yield self
        finally:
            self.model.set_adapter(previous)

    def parameters(self) -> list[nn.Parameter]:
        with self.active():
            return [p for p in self.model.parameters() if p.requires_grad] + list(self.head.parameters())

    def hidden(self, batch: dict[str, Tensor]) -> Tensor:
        """The decoder's last hidden states with this adapter active, ``(N, L, H)``."""
        base = self.model.get_base_model()
        decoder = getattr(base, base.base_model_prefix)  # the transformer without its LM head
        with self.active():
            return decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        hidden = self.hidden(batch)
        last = batch["attention_mask"].sum(1) - 1  # right padding: the final real token
        return self.head(hidden[torch.arange(hidden.shape[0], device=hidden.device), last].float()).squeeze(-1)

    @torch.no_grad()
    def score_pairs(self, rows: list[dict], pad_id: int, batch_size: int = 16) -> tuple[Tensor, Tensor]:
        """Rewards of every pair's chosen and rejected response, ``(n,)`` each."""
        device = next(self.model.parameters()).device
        chosen, rejected = [], []
        with eval_mode(self.model):
            for start in range(0, len(rows), batch_size):
                batch = {k: v.to(device) for k, v in collate_pairs(rows[start:start + batch_size], pad_id).items()}
                c, r = self.score(batch).float().cpu().chunk(2)
                chosen.append(c)
                rejected.append(r)
        return torch.cat(chosen), torch.cat(rejected)

    def save(self, folder: Path, wait: bool = True) -> Path:
        """The adapter in PEFT format under ``folder/<adapter>`` and the head as JSON beside it; written
        by the main process alone (a data-parallel run's processes hold the same model), its path
        returned to every process once written (``wait=False``: at once, for a caller that is the main
        process alone and synchronises itself)."""
        from prefzoo.algorithms.engine.processes import is_main, wait_for_everyone

        folder = Path(folder)
        if is_main():
            self.model.save_pretrained(folder, selected_adapters=[self.adapter])
            head = {"weight": self.head.weight.detach().cpu().squeeze(0).tolist(), "bias": self.head.bias.item()}
            (folder / self.adapter / HEAD_FILE).write_text(json.dumps(head))
        if wait:
            wait_for_everyone()
        return folder / self.adapter

    @classmethod
    def load(cls, model, folder: Path, adapter: str = "reward", saved_as: str | None = None) -> RewardModel:
        """A saved reward model onto ``model`` (a PEFT model on the same base) as adapter ``adapter``;
        ``saved_as``: the adapter name it was saved under, where that differs."""
        path = Path(folder) / (saved_as or adapter)
        model.load_adapter(str(path), adapter_name=adapter)
        values = json.loads((path / HEAD_FILE).read_text())
        head = nn.Linear(len(values["weight"]), 1).to(next(model.parameters()).device)
        with torch.no_grad():
            head.weight.copy_(torch.tensor([values["weight"]]))
            head.bias.fill_(values["bias"])
        return cls(model, adapter, head)


class Critic(RewardModel):
    """V(s_t): the reward model's architecture read at every response position — the hidden state
    before each response token — giving ``(N, L − start)`` values aligned with
    :func:`~prefzoo.algorithms.engine.logprobs.response_token_logps`."""

    @classmethod
    def from_reward_model(cls, reward_model: RewardModel, settings: ModelSettings, adapter: str = "value") -> Critic:
        """A critic initialised from the reward model: its adapter's weights and its head (PPO-max)."""
        critic = cls.create(reward_model.model, settings, adapter=adapter)
        params = dict(critic.model.named_parameters())
        with torch.no_grad():
            for name, p in params.items():
                if f".{adapter}." in name:
                    p.copy_(params[name.replace(f".{adapter}.", f".{reward_model.adapter}.")])
            critic.head.load_state_dict(reward_model.head.state_dict())
        return critic

    def values(self, batch: dict[str, Tensor], start: int | None = None) -> Tensor:
        """V at the state before each response token, ``(N, L − start)``, as ``response_token_logps`` lays
        them out (a minibatch passes its batch's ``start``)."""
        from prefzoo.algorithms.engine.logprobs import response_start

        start = response_start(batch) if start is None else start
        hidden = self.hidden(batch)[:, start - 1:-1]  # the state before each response token
        return self.head(hidden.float()).squeeze(-1)


@dataclass
class RewardTrainResult(TrainResult):
    labels: Tensor | None = None
    """The soft labels after the last epoch, ``(n,)`` (all ones for maximum likelihood)."""


def train_reward_model(algorithm: RewardLearning, reward_model: RewardModel, rows: list[dict], pad_id: int,
                       settings: TrainSettings, epochs: int, accelerator=None) -> RewardTrainResult:
    """``epochs`` passes over ``rows`` (tokenised pairs, chosen preferred): AdamW with the algorithm's
    own step size where it declares one (IDS's α), else ``settings.learning_rate``, on its loss with the current soft labels, then its label update from the model's
    predictions on every pair (Zhu et al. 2024, Algorithm 1; a no-op for Bradley–Terry)."""
    accelerator = accelerator or make_accelerator(settings)
    torch.manual_seed(settings.seed)
    params = reward_model.parameters()
    lr = algorithm.learning_rate or settings.learning_rate
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    optimizer = accelerator.prepare(optimizer)  # steps only when gradients sync; StepLoop steps the scheduler
    steps_per_epoch = len(rows) // settings.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{len(rows)} pairs are fewer than one batch ({settings.batch_size})")
    budget = TrainSettings(**{**settings.to_dict(), "steps": epochs * steps_per_epoch})
    steps = StepLoop(accelerator, reward_model.model, params, optimizer, scheduler, budget, algorithm.name,
                     f"{algorithm.name}-reward", average_gradients=True, policy_steps=False)
    rank, world = accelerator.process_index, accelerator.num_processes
    labels = torch.ones(len(rows))
    generator = torch.Generator().manual_seed(settings.seed)
    device = accelerator.device
    with PeakMemory(device) as memory, reward_model.active():
        start = time.perf_counter()
        for _ in range(epochs):
            order = torch.randperm(len(rows), generator=generator)[:steps_per_epoch * settings.batch_size].tolist()
            for mb in range(0, len(order), settings.micro_batch_size):
                if (mb // settings.micro_batch_size) % world != rank:  # data-parallel: every N-th micro-batch
                    continue
                picks = order[mb:mb + settings.micro_batch_size]
                batch = {k: v.to(device) for k, v in collate_pairs([rows[i] for i in picks], pad_id).items()}
                batch_labels = labels[picks].to(device)

                def loss():
                    chosen, rejected = reward_model.score(batch).chunk(2)
                    return algorithm.loss(chosen, rejected, batch_labels)

                steps.micro_batch(loss, batch)
            chosen, rejected = reward_model.score_pairs(rows, pad_id)
            labels = algorithm.update_labels(labels, chosen, rejected).float()
        wall = time.perf_counter() - start
    steps.close()
    return RewardTrainResult(steps.history, wall, steps.tokens, memory.peak, labels)
