"""Diagnostics of a learned reward model against a gold reward, the questions "RLHF Deciphered"
(Lambert et al. 2023) asks of reward models: does it rank held-out pairs as the gold reward does, does
it track the gold reward, and are its preference probabilities calibrated?"""

from __future__ import annotations

import torch
from torch import Tensor


def reward_diagnostics(chosen: Tensor, rejected: Tensor, gold_chosen: Tensor, gold_rejected: Tensor,
                       label_temperature: float, bins: int = 10) -> dict[str, float]:
    """``chosen``/``rejected`` the model's rewards of each held-out pair, ``gold_*`` the gold rewards
    (all ``(n,)``; chosen is the gold-preferred response).

    - pair_accuracy: fraction of pairs with r(y_w) > r(y_l);
    - correlation: Pearson correlation of r and gold over all 2n responses;
    - ece: expected calibration error of p = σ(r_w − r_l) against the labeller's own probability
      σ((g_w − g_l)/T), over ``bins`` equal-width bins of p (weighted by bin size). The labeller's
      probability, not the 0/1 held-out order, is what a calibrated Bradley–Terry model predicts.
    """
    chosen, rejected = chosen.double(), rejected.double()
    gold_chosen, gold_rejected = gold_chosen.double(), gold_rejected.double()
    r, g = torch.cat([chosen, rejected]), torch.cat([gold_chosen, gold_rejected])
    rc, gc = r - r.mean(), g - g.mean()
    correlation = float((rc * gc).sum() / (rc.norm() * gc.norm()).clamp(min=1e-12))
    p = torch.sigmoid(chosen - rejected)
    target = torch.sigmoid((gold_chosen - gold_rejected) / label_temperature)
    which = torch.clamp((p * bins).long(), max=bins - 1)
    ece = sum(float((which == b).sum()) / len(p) * abs(float(p[which == b].mean() - target[which == b].mean()))
              for b in range(bins) if (which == b).any())
    return {"pair_accuracy": float((chosen > rejected).double().mean()), "correlation": correlation,
            "ece": ece, "pairs": len(p)}
