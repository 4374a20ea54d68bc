"""Diagnostics of a learned reward model against a gold reward, the questions "RLHF Deciphered"
(Chaudhari et al. 2024, arXiv:2404.08555, §5) asks of reward models: does it rank held-out pairs as the
gold reward does (and on which margins), does it track the gold reward response by response, and are
its preference probabilities calibrated?"""

from __future__ import annotations

import torch
from torch import Tensor


def average_ranks(x: Tensor) -> Tensor:
    """Ranks 1 … n of ``x`` (1-D), ties given the mean of the ranks they span (Spearman's convention)."""
    values, order = torch.sort(x)
    _, counts = torch.unique_consecutive(values, return_counts=True)
    ends = counts.cumsum(0).double()
    mean_rank = ends - (counts.double() - 1) / 2  # the mean of ranks end − count + 1 … end
    ranks = torch.empty_like(x, dtype=torch.float64)
    ranks[order] = mean_rank.repeat_interleave(counts)
    return ranks


def pearson(a: Tensor, b: Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp(min=1e-12))


def spearman(a: Tensor, b: Tensor) -> float:
    return pearson(average_ranks(a), average_ranks(b))


def _pair_stats(chosen: Tensor, rejected: Tensor, gold_chosen: Tensor, gold_rejected: Tensor) -> list[float]:
    r, g = torch.cat([chosen, rejected]), torch.cat([gold_chosen, gold_rejected])
    return [float((chosen > rejected).double().mean()), pearson(r, g), spearman(r, g)]


def reward_diagnostics(chosen: Tensor, rejected: Tensor, gold_chosen: Tensor, gold_rejected: Tensor,
                       label_temperature: float, bins: int = 10, resamples: int = 1000,
                       seed: int = 0) -> dict[str, float | list]:
    """``chosen``/``rejected`` the model's rewards of each held-out pair, ``gold_*`` the gold rewards
    (all ``(n,)``; chosen is the gold-preferred response).

    - pair_accuracy: fraction of pairs with r(y_w) > r(y_l);
    - correlation, spearman: Pearson and Spearman correlation of r and gold over all 2n responses,
      scored one response at a time;
    - ``*_ci``: 95% percentile-bootstrap intervals of those three, resampling pairs (``resamples``
      draws, seeded): the within-run interval of one reward model on these pairs;
    - accuracy_by_margin: pair accuracy in the terciles of the gold margin g_w − g_l (small margins are
      pairs the labeller itself orders almost by chance);
    - ece: expected calibration error of p = σ(r_w − r_l) against the labeller's own probability
      σ((g_w − g_l)/T), over ``bins`` equal-width bins of p (weighted by bin size). The labeller's
      probability, not the 0/1 held-out order, is what a calibrated Bradley–Terry model predicts;
    - implied_temperature: the labeller temperature the model's margins imply, 1/s for s the
      least-squares slope (through 0) of r_w − r_l on g_w − g_l; T itself for a model that learned the
      labeller's Bradley–Terry law, larger where it is too timid, smaller where overconfident (the
      misspecification of the assumed temperature).
    """
    chosen, rejected = chosen.double(), rejected.double()
    gold_chosen, gold_rejected = gold_chosen.double(), gold_rejected.double()
    accuracy, correlation, rank_correlation = _pair_stats(chosen, rejected, gold_chosen, gold_rejected)
    p = torch.sigmoid(chosen - rejected)
    target = torch.sigmoid((gold_chosen - gold_rejected) / label_temperature)
    which = torch.clamp((p * bins).long(), max=bins - 1)
    ece = sum(float((which == b).sum()) / len(p) * abs(float(p[which == b].mean() - target[which == b].mean()))
              for b in range(bins) if (which == b).any())
    gold_margin = gold_chosen - gold_rejected
    slope = float(((chosen - rejected) * gold_margin).sum() / (gold_margin ** 2).sum().clamp(min=1e-12))
    generator = torch.Generator().manual_seed(seed)
    draws = torch.tensor([_pair_stats(chosen[i], rejected[i], gold_chosen[i], gold_rejected[i]) for i in
                          torch.randint(len(p), (resamples, len(p)), generator=generator)])
    low, high = torch.nanquantile(draws, 0.025, dim=0).tolist(), torch.nanquantile(draws, 0.975, dim=0).tolist()
    margin = gold_chosen - gold_rejected
    order = torch.argsort(margin, stable=True)
    by_margin = []
    for part in torch.tensor_split(order, 3):
        if len(part):
            by_margin.append({"margin_low": float(margin[part].min()), "margin_high": float(margin[part].max()),
                              "pairs": len(part), "accuracy": float((chosen[part] > rejected[part]).double().mean())})
    return {"pair_accuracy": accuracy, "correlation": correlation, "spearman": rank_correlation, "ece": ece,
            "pairs": len(p), "pair_accuracy_ci": [low[0], high[0]], "correlation_ci": [low[1], high[1]],
            "spearman_ci": [low[2], high[2]], "accuracy_by_margin": by_margin,
            "implied_temperature": 1 / slope if slope > 0 else None}
