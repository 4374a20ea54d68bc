"""Reward–KL frontiers, and reading one at a given KL.

A policy that spends more KL(π‖π_ref) can buy more reward, so rows at different KL are not comparable;
the papers compare the best reward reached within a KL budget — the frontier — instead (Rafailov et al.
2023, §6.1 and Fig. 2; Gao, Schulman & Hilton 2022). An algorithm's points are its evaluations (along
training, across strengths), each a KL and a per-prompt gold vector, plus the reference (KL 0). Its
frontier at KL level κ is the best gold reached at KL ≤ κ: the upper envelope of its points — those
whose gold beats every point of smaller or equal KL — joined by straight lines (monotone, since the
envelope's gold rises with its KL), and flat from the envelope's last point to the largest KL any point
reached (a policy that went further and lost gold did reach those KLs). Beyond that largest KL the
frontier does not reach κ: it is never extrapolated.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def envelope(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the upper envelope of (KL, gold) ``points``, by increasing KL: each one's gold is above
    that of every point with a smaller or equal KL (ties in KL: the higher gold)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    kept, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            kept.append(i)
            best = points[i][1]
    return kept


def read_at(points: Sequence[tuple[float, torch.Tensor]], level: float) -> torch.Tensor | None:
    """The frontier of ``points`` ((KL, per-prompt gold vector (P,)) each) at KL ``level``: the envelope's
    vectors interpolated linearly in KL, with the same weights for every prompt (so its mean is the
    frontier's value); None where no point reaches ``level`` or none lies at or below it."""
    if not points or level > max(kl for kl, _ in points):
        return None
    means = [(kl, float(v.double().mean())) for kl, v in points]
    kept = [points[i] for i in envelope(means)]
    if level < kept[0][0]:
        return None
    for (kl_a, a), (kl_b, b) in zip(kept, kept[1:]):
        if kl_a <= level <= kl_b:
            weight = (level - kl_a) / (kl_b - kl_a) if kl_b > kl_a else 0.0
            return (1 - weight) * a.double() + weight * b.double()
    return kept[-1][1].double()  # past the envelope's last point: the best gold stays what it was
