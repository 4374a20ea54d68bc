from dataclasses import dataclass

import torch
import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("bco")
class BCO(Pairwise):
    """Binary Classifier Optimization (Jung et al. 2024, Eq. 6–7), on pairs: chosen responses are the
    positive class, rejected ones the negative, with the implicit reward r = β·log π/π_ref as the logit
    and a reward shift δ.

    loss = −log σ(r_w − δ) − log σ(−(r_l − δ)); δ is the running mean of every reward seen so far
    (chosen and rejected, the mean of the batch folded in before the loss reads it, as TRL's BCO
    trainer keeps it in ``RunningMoments``). δ is state of the run: kept per leading index (one per
    bandit seed and dataset), saved with the adapter (``state_dict``). ``reward_shift=False`` fixes
    δ = 0: TRL's DPO ``bco_pair``. Inputs and losses share the shape of ``PairLogps``.
    """

    paper = "Jung et al. 2024, arXiv:2404.04656"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β, the scale of the implicit reward r = β·log π/π_ref."""
        reward_shift: bool = True
        """Subtract the running mean reward δ (Eq. 7); False is TRL's ``bco_pair``."""

    def __init__(self, config=None):
        super().__init__(config)
        self.delta: torch.Tensor | None = None
        self.count = 0

    def state_dict(self) -> dict:
        return {} if self.delta is None else {"delta": self.delta.tolist(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.delta = torch.tensor(state["delta"], dtype=torch.float64) if state else None
        self.count = state.get("count", 0) if state else 0

    def loss(self, b: PairLogps) -> LossOutput:
        rw, rl = self.config.beta * b.chosen_logratio, self.config.beta * b.rejected_logratio
        delta = torch.zeros_like(rw[..., :1])
        if self.config.reward_shift:
            batch_mean = torch.cat([rw, rl], -1).detach().double().mean(-1, keepdim=True)
            if self.delta is None or self.delta.shape != batch_mean.shape:
                self.delta, self.count = torch.zeros_like(batch_mean), 0
            self.delta = (self.delta * self.count + batch_mean) / (self.count + 1)  # mean of equal-sized batches
            self.count += 1
            delta = self.delta.to(rw.dtype)
        losses = -F.logsigmoid(rw - delta) - F.logsigmoid(-(rl - delta))
        return LossOutput(losses, {"margin": b.logratio_margin, "delta": delta.expand_as(rw)})
