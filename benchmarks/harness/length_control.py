"""The length-controlled win rate (Dubois, Galambosi, Liang & Hashimoto 2024, "Length-Controlled
AlpacaEval: A Simple Way to Debias Automatic Evaluators", arXiv:2404.04475, §3).

Judges prefer longer answers, so a policy can raise its win rate against the reference by talking more.
The length-controlled win rate asks what the win rate would be if the policy's and the reference's
responses had the same length. It fits a logistic regression (a GLM) of the judge's preference of the
policy's response over the reference's on the standardised length difference,

    P(policy ≻ reference | x) = σ(θ₀ + θ₁·tanh(Δℓ / sd(Δℓ))),   Δℓ = len(y_policy) − len(y_reference)

in characters (AlpacaEval's ``std_delta_len``), with soft targets (a win 1, a tie ½, a loss 0) and an L2
penalty ‖θ‖²/(2C), C = 100 (AlpacaEval's unvalidated default). The controlled win rate is the prediction
at Δℓ = 0, σ(θ₀). AlpacaEval's model also has a per-instruction difficulty term, estimated across many
models' answers to the same instructions; a table of a few policies against one reference cannot
estimate it, so it is left out here. The interval resamples seeds and prompts as every other interval
of the table does (``paired_stats.bootstrap_means``), refitting the GLM on each resample.
"""

from __future__ import annotations

import torch

C = 100.0
NEWTON_STEPS = 30
LC_RESAMPLES = 1000
"""Each resample refits the GLM; a thousand keep a table of thirty rows under a few seconds."""


def fit(wins: torch.Tensor, length_difference: torch.Tensor) -> torch.Tensor:
    """(θ₀, θ₁) of the penalised logistic regression, for each of R problems at once: ``wins`` and
    ``length_difference`` (R, N), targets in [0, 1]; returns (R, 2). Newton's method on a strictly
    convex objective (the penalty makes the Hessian positive definite)."""
    y, d = wins.double(), length_difference.double()
    sd = d.std(dim=1, keepdim=True)
    z = torch.where(sd > 0, torch.tanh(d / sd.clamp(min=1e-12)), torch.zeros_like(d))
    theta = torch.zeros(y.shape[0], 2, dtype=torch.float64)
    for _ in range(NEWTON_STEPS):
        p = torch.sigmoid(theta[:, :1] + theta[:, 1:] * z)
        r, w = p - y, p * (1 - p)
        gradient = torch.stack([r.sum(1), (r * z).sum(1)], 1) + theta / C
        h00, h01, h11 = w.sum(1) + 1 / C, (w * z).sum(1), (w * z * z).sum(1) + 1 / C
        det = h00 * h11 - h01 * h01  # the 2 × 2 Hessian inverted in closed form
        step = torch.stack([h11 * gradient[:, 0] - h01 * gradient[:, 1], h00 * gradient[:, 1] - h01 * gradient[:, 0]],
                           1) / det[:, None]
        theta = theta - step
        if float(step.abs().max()) < 1e-12:
            break
    return theta


def length_controlled(wins: torch.Tensor, length_difference: torch.Tensor, level: float = 0.95,
                      resamples: int = LC_RESAMPLES, seed: int = 0) -> dict[str, float]:
    """The length-controlled win rate σ(θ₀) of one row: ``wins`` and ``length_difference`` are
    (S seeds, P prompts, K samples per prompt), paired sample by sample with the reference. Returns {"mean", "low", "high", "seeds",
    "length_coefficient"} (θ₁: how strongly the judge's preference follows length)."""
    S, P, K = wins.shape
    theta = fit(wins.reshape(1, -1), length_difference.reshape(1, -1))[0]
    g = torch.Generator().manual_seed(seed)
    seeds = torch.randint(0, S, (resamples, S), generator=g)
    prompts = torch.randint(0, P, (resamples, P), generator=g)

    def resampled(values: torch.Tensor) -> torch.Tensor:
        picked = values.double()[seeds]  # (R, S, P, K)
        index = prompts[:, None, :, None].expand(-1, S, -1, K)
        return picked.gather(2, index).reshape(resamples, -1)

    rates = torch.sigmoid(fit(resampled(wins), resampled(length_difference))[:, 0])
    tail = (1 - level) / 2
    low, high = torch.quantile(rates, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return {"mean": float(torch.sigmoid(theta[0])), "low": low, "high": high, "seeds": S,
            "length_coefficient": float(theta[1])}
