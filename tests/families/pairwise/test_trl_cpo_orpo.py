"""CPO and ORPO against TRL 1.16's experimental CPOTrainer.cpo_loss and ORPOTrainer.odds_ratio_loss.

Both TRL functions take sequence log-probs (CPO: sums over the response; ORPO: means over the response,
``average_log_prob=True``) and return per-pair losses; TRL then adds the chosen response's NLL outside
them (CPO: ``loss = losses.mean() + cpo_alpha · nll``; ORPO: ``loss = nll − losses.mean()``). The NLL
terms are compared with hand values in ``test_offline_losses.py``. One difference is by design: TRL's
ORPO takes the NLL over prompt and response tokens; prefzoo's over the response, as the paper's
L_SFT (Hong et al. 2024, Eq. 2) and CPO (TRL's CPO masks the prompt too) do.
"""

from __future__ import annotations

import pytest
import torch

from prefzoo.algorithms.framework.base import PairLogps
from prefzoo.registry import ALGORITHMS

pytest.importorskip("trl")
from accelerate import Accelerator  # noqa: E402
from trl.experimental.cpo import CPOTrainer  # noqa: E402
from trl.experimental.orpo import ORPOTrainer  # noqa: E402


def _batch(seed: int):
    g = torch.Generator().manual_seed(seed)
    n = 8
    tokens = torch.randint(1, 30, (2, n), generator=g).double()
    sums = (-torch.rand(2, n, generator=g, dtype=torch.float64) * 2 * tokens).requires_grad_(True)
    return sums, tokens


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("beta,smoothing", [(0.1, 0.0), (0.5, 0.0), (0.3, 0.2)])
def test_cpo_preference_term_matches_trl(beta, smoothing, seed):
    sums, tokens = _batch(seed)
    trl = CPOTrainer.__new__(CPOTrainer)
    trl.__dict__.update(beta=beta, label_smoothing=smoothing, loss_type="sigmoid", alpha=0.0, simpo_gamma=0.5,
                        accelerator=Accelerator(cpu=True))
    theirs = trl.cpo_loss(sums[0], sums[1])[0]
    cls = ALGORITHMS.get("cpo")
    ours = cls(cls.Config(beta=beta, nll_weight=0.0, label_smoothing=smoothing))(
        PairLogps(sums[0], sums[1], chosen_tokens=tokens[0], rejected_tokens=tokens[1])).losses
    assert torch.allclose(ours, theirs.double(), atol=1e-6)
    g_ours, = torch.autograd.grad(ours.mean(), sums, retain_graph=True)
    g_theirs, = torch.autograd.grad(theirs.mean(), sums)
    assert torch.allclose(g_ours, g_theirs.double(), atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lam", [0.1, 0.5, 2.0])
def test_orpo_odds_ratio_term_matches_trl(lam, seed):
    sums, tokens = _batch(seed)
    trl = ORPOTrainer.__new__(ORPOTrainer)
    trl.__dict__.update(beta=lam, accelerator=Accelerator(cpu=True))
    means = sums / tokens  # TRL's ORPO reads length-averaged log-probs
    theirs = -trl.odds_ratio_loss(means[0], means[1])[0]  # TRL subtracts it: loss = nll − losses.mean()
    cls = ALGORITHMS.get("orpo")
    out = cls(cls.Config(lambda_=lam))(PairLogps(sums[0], sums[1], chosen_tokens=tokens[0], rejected_tokens=tokens[1]))
    ours = out.losses - out.metrics["nll"]
    assert torch.allclose(ours, theirs.double(), atol=1e-6)
    g_ours, = torch.autograd.grad(ours.mean(), sums, retain_graph=True)
    g_theirs, = torch.autograd.grad(theirs.mean(), sums)
    assert torch.allclose(g_ours, g_theirs.double(), atol=1e-6)
