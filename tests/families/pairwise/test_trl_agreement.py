"""prefzoo's losses against TRL 1.16's DPOTrainer, driving TRL's own ``_compute_loss``.

TRL computes sequence log-probs inside ``_compute_loss`` from the model's per-token log-probs. A stub
model hands it per-token log-probs we choose (zero on prompt and padding positions, as TRL's fused LM
head returns for label −100), and precomputed reference log-probs; TRL then runs its real loss code.
We feed the same sequence sums to prefzoo and compare the mean loss and its gradient with respect to
every per-token log-prob.

TRL's `ipo` and `sigmoid_norm` divide each response's log-ratio by its number of completion tokens
(``completion_mask`` summed per row) before taking the margin; prefzoo's IPO (``average_log_ratio=True``,
its default) and ``dpo-norm`` do the same, so lengths are passed as those token counts. ``aot`` and
``aot_unpaired`` sort over the batch (TRL's dim 0, prefzoo's last axis: the same axis here). ``bco_pair``
is BCO without its running reward shift (``reward_shift=False``); the shift has no TRL oracle in 1.16
and is tested by hand.
"""

from __future__ import annotations

import types
from collections import defaultdict

import pytest
import torch

from prefzoo.algorithms.framework.base import PairLogps
from prefzoo.registry import ALGORITHMS

trl = pytest.importorskip("trl")
from accelerate import Accelerator  # noqa: E402
from trl import DPOConfig, DPOTrainer  # noqa: E402

# (TRL loss_type, prefzoo algorithm, prefzoo config fields, TRL beta, TRL label_smoothing)
SHARED = [
    ("sigmoid", "dpo", {"beta": 0.1}, 0.1, 0.0),
    ("sigmoid", "dpo", {"beta": 0.7}, 0.7, 0.0),
    ("ipo", "ipo", {"tau": 0.1}, 0.1, 0.0),
    ("ipo", "ipo", {"tau": 1.3}, 1.3, 0.0),
    ("robust", "robust-dpo", {"beta": 0.1, "epsilon": 0.2}, 0.1, 0.2),
    ("robust", "robust-dpo", {"beta": 0.5, "epsilon": 0.0}, 0.5, 0.0),
    ("hinge", "slic-hinge", {"beta": 0.1, "delta": 1.0}, 0.1, 0.0),
    ("hinge", "slic-hinge", {"beta": 2.0, "delta": 1.0}, 2.0, 0.0),
    ("exo_pair", "exo", {"beta": 0.1, "epsilon": 1e-3}, 0.1, 1e-3),
    ("exo_pair", "exo", {"beta": 0.5, "epsilon": 0.2}, 0.5, 0.2),
    ("nca_pair", "nca", {"beta": 0.1}, 0.1, 0.0),
    ("nca_pair", "nca", {"beta": 1.0}, 1.0, 0.0),
    ("bco_pair", "bco", {"beta": 0.1, "reward_shift": False}, 0.1, 0.0),
    ("bco_pair", "bco", {"beta": 0.8, "reward_shift": False}, 0.8, 0.0),
    ("sppo_hard", "sppo-hard", {"beta": 0.1}, 0.1, 0.0),
    ("sppo_hard", "sppo-hard", {"beta": 1.0}, 1.0, 0.0),
    ("aot", "aot", {"beta": 0.1}, 0.1, 0.0),
    ("aot", "aot", {"beta": 0.5, "label_smoothing": 0.1}, 0.5, 0.1),
    ("aot_unpaired", "aot", {"beta": 0.1, "unpaired": True}, 0.1, 0.0),
    ("aot_unpaired", "aot", {"beta": 0.5, "unpaired": True, "label_smoothing": 0.2}, 0.5, 0.2),
    ("apo_zero", "apo", {"beta": 0.1, "anchor": "zero"}, 0.1, 0.0),
    ("apo_zero", "apo", {"beta": 0.7, "anchor": "zero"}, 0.7, 0.0),
    ("apo_down", "apo", {"beta": 0.1, "anchor": "down"}, 0.1, 0.0),
    ("apo_down", "apo", {"beta": 0.7, "anchor": "down"}, 0.7, 0.0),
    ("discopop", "discopop", {"beta": 0.05, "tau": 0.05}, 0.05, 0.0),  # TRL's discopop_tau default: 0.05
    ("discopop", "discopop", {"beta": 0.3, "tau": 0.05}, 0.3, 0.0),
    ("sigmoid_norm", "dpo-norm", {"beta": 0.1}, 0.1, 0.0),
    ("sigmoid_norm", "dpo-norm", {"beta": 2.0}, 2.0, 0.0),
]


class _PerTokenLogps(torch.nn.Module):
    """Stands in for the policy: returns the per-token log-probs it holds, as TRL's fused head would."""

    def __init__(self, per_token: torch.Tensor):
        super().__init__()
        self.per_token = per_token

    def forward(self, **_):
        shape = self.per_token.shape
        return types.SimpleNamespace(log_probs=self.per_token, entropy=torch.zeros(shape),
                                     mean_logits=torch.zeros(shape), is_top1=torch.zeros(shape, dtype=torch.bool),
                                     aux_loss=None)


def _trl_trainer(model, loss_type: str, beta: float, label_smoothing: float, tmp_path) -> DPOTrainer:
    """A DPOTrainer carrying the loss settings of a real DPOConfig, without dataset or tokenizer set-up."""
    args = DPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, loss_type=[loss_type], beta=beta,
                     label_smoothing=label_smoothing, precompute_ref_log_probs=True, report_to=[])
    trainer = DPOTrainer.__new__(DPOTrainer)
    trainer.__dict__.update(
        model=model, accelerator=Accelerator(cpu=True), args=args,
        beta=args.beta, precompute_ref_logps=args.precompute_ref_log_probs, loss_types=args.loss_type,
        loss_weights=args.loss_weights or [1.0], ld_alpha=args.ld_alpha, f_divergence_type=args.f_divergence_type,
        f_alpha_divergence_coef=args.f_alpha_divergence_coef, label_smoothing=args.label_smoothing,
        use_weighting=args.use_weighting, aux_loss_enabled=False, router_aux_loss_coef=0.0,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)}, _total_train_tokens=0, _tp_size=1)
    return trainer


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("loss_type,name,fields,beta,smoothing", SHARED)
def test_loss_and_gradient_match_trl(loss_type, name, fields, beta, smoothing, seed, tmp_path):
    assert trl.__version__.startswith("1.16"), f"the oracle is TRL 1.16; installed {trl.__version__}"
    g = torch.Generator().manual_seed(seed)
    B, T = 6, 12
    # input_ids has T+1 positions; the completion is the tail of each row, at least one token long,
    # never the first position (TRL shifts by one).
    completion_mask = torch.zeros(2 * B, T + 1, dtype=torch.long)
    lengths = torch.randint(1, T, (2 * B,), generator=g)
    for row, n in enumerate(lengths.tolist()):
        completion_mask[row, T + 1 - n:] = 1
    per_token = (-torch.rand(2 * B, T, generator=g) * 4 * completion_mask[:, 1:]).requires_grad_(True)
    ref = -torch.rand(2 * B, generator=g) * 20 - 1

    model = _PerTokenLogps(per_token)
    inputs = dict(input_ids=torch.zeros(2 * B, T + 1, dtype=torch.long),
                  attention_mask=torch.ones(2 * B, T + 1, dtype=torch.long), completion_mask=completion_mask,
                  ref_chosen_logps=ref[:B], ref_rejected_logps=ref[B:])
    trl_loss = _trl_trainer(model, loss_type, beta, smoothing, tmp_path)._compute_loss(model, inputs, False)
    trl_grad, = torch.autograd.grad(trl_loss, per_token)

    algorithm = ALGORITHMS.get(name)
    ours_per_token = per_token.detach().clone().requires_grad_(True)
    sums = ours_per_token.sum(1)
    tokens = completion_mask.sum(1).float()
    batch = PairLogps(sums[:B], sums[B:], ref[:B], ref[B:], tokens[:B], tokens[B:])
    ours = algorithm(algorithm.Config(**fields))(batch).loss
    our_grad, = torch.autograd.grad(ours, ours_per_token)

    assert torch.isfinite(ours)
    assert abs(ours.item() - trl_loss.item()) < 1e-5, (ours.item(), trl_loss.item())
    assert torch.allclose(our_grad, trl_grad, atol=1e-5, rtol=1e-5)
    assert trl_grad.abs().sum() > 0 or loss_type == "hinge"
