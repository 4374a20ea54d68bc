from dataclasses import dataclass

import torch
import torch.nn.functional as F

from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register


@register("beta-dpo")
class BetaDPO(Pairwise):
    """β-DPO, DPO with a per-batch β calibrated on the data (Wu et al. 2024, Eq. 7–9, as the authors'
    code computes it).

    With the margins M_i = h_i (the DPO log-ratio margin, detached), moving averages of their mean M₀
    and standard deviation σ are updated first (momentum m = 0.9, from 0). β-guided filtering keeps a
    fraction 1 − ρ of the batch, drawn without replacement with weights exp(−½((M_i − M₀)/σ)²) (pairs
    far from the typical margin are likely outliers); then β_batch = β₀·(1 + α·(mean of the kept M_i
    − M₀)), at least 10⁻³, and loss_i = −log σ(β_batch·h_i) on the kept pairs (the others weigh 0; the
    kept ones are scaled so the batch mean is their mean). M₀ and σ are state of the run, per leading
    index, saved with the adapter. ρ = 0 and α = 0 is DPO. Inputs and losses share the shape of
    ``PairLogps``; the batch is the last axis.
    """

    paper = "Wu et al. 2024, arXiv:2407.08639"

    @dataclass(frozen=True)
    class Config(AlgorithmConfig):
        strength = "beta"
        beta: float = param(0.1, gt=0)
        """β₀, the base strength of the KL constraint."""
        alpha: float = param(0.6, ge=0)
        """α, how strongly β follows the batch's margin above or below its running mean M₀."""
        filter_fraction: float = param(0.2, ge=0, lt=1)
        """ρ, the fraction of each batch the β-guided filter drops."""
        momentum: float = param(0.9, ge=0, lt=1)
        """m, the momentum of the running mean and standard deviation of the margins."""

    def __init__(self, config=None):
        super().__init__(config)
        self.gap_mean: torch.Tensor | None = None
        self.gap_std: torch.Tensor | None = None

    def state_dict(self) -> dict:
        return {} if self.gap_mean is None else {"gap_mean": self.gap_mean.tolist(), "gap_std": self.gap_std.tolist()}

    def load_state_dict(self, state: dict) -> None:
        self.gap_mean = torch.tensor(state["gap_mean"], dtype=torch.float64) if state else None
        self.gap_std = torch.tensor(state["gap_std"], dtype=torch.float64) if state else None

    def loss(self, b: PairLogps) -> LossOutput:
        c = self.config
        margin = b.logratio_margin
        gap = margin.detach().double()
        n = gap.shape[-1]
        batch_std = gap.std(-1, keepdim=True) if n > 1 else torch.zeros_like(gap[..., :1])
        if self.gap_mean is None or self.gap_mean.shape != batch_std.shape:
            self.gap_mean, self.gap_std = torch.zeros_like(batch_std), torch.zeros_like(batch_std)
        self.gap_mean = c.momentum * self.gap_mean + (1 - c.momentum) * gap.mean(-1, keepdim=True)
        self.gap_std = c.momentum * self.gap_std + (1 - c.momentum) * batch_std
        keep_n = int(n * (1 - c.filter_fraction)) if c.filter_fraction else n
        if keep_n < n:
            weights = torch.exp(-0.5 * ((gap - self.gap_mean) / self.gap_std.clamp(min=1e-12)) ** 2)
            flat = weights.reshape(-1, n).clamp(min=1e-30)
            picked = torch.multinomial(flat, keep_n, replacement=False)
            mask = torch.zeros_like(flat).scatter_(1, picked, 1.0).reshape(gap.shape)
        else:
            mask = torch.ones_like(gap)
        kept_mean = (gap * mask).sum(-1, keepdim=True) / keep_n
        beta = (c.beta * (1 + c.alpha * (kept_mean - self.gap_mean))).clamp(min=1e-3).to(margin.dtype)
        losses = -F.logsigmoid(beta * margin) * mask.to(margin.dtype) * (n / keep_n)
        return LossOutput(losses, {"margin": margin, "beta": beta.expand_as(margin)})
