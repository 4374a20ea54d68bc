"""KTO against TRL 1.16's KTOTrainer, driving TRL's own ``_compute_loss`` (``loss_type="kto"``).

As in ``test_trl_agreement.py``, a stub model hands TRL per-token log-probs we choose (zero off the
completion, as TRL's fused LM head returns for label −100) — one set for the rows' own sequences and
another for the KL sequences (``KL_input_ids``, told apart by their token ids) — with precomputed
reference log-probs (``ref_logps``, ``ref_KL_logps``). TRL then runs its loss: z₀ = mean of the KL
sequences' log-ratios, detached and clamped at 0, and the mean over rows of λ_D·(1 − σ(β(r − z₀))) or
λ_U·(1 − σ(β(z₀ − r))). prefzoo gets the same sequence sums: as pairs (the B chosen rows labelled
desirable, then the B rejected ones — the order ``collate_pairs`` lays out and TRL's rotation by one
row pairs with mismatched completions) and as unpaired rows with random labels.
"""

from __future__ import annotations

import types
from collections import defaultdict

import pytest
import torch

from prefzoo.algorithms.engine.data import collate_pairs
from prefzoo.algorithms.framework.base import PairLogps
from prefzoo.algorithms.framework.unpaired import UnpairedLogps, accepts_unpaired
from prefzoo.registry import ALGORITHMS

trl = pytest.importorskip("trl")
from accelerate import Accelerator  # noqa: E402
from trl import KTOConfig, KTOTrainer  # noqa: E402

KL_TOKEN = 1  # the stub tells KL sequences (all ids 1) from the rows' own (all ids 0)


class _PerTokenLogps(torch.nn.Module):
    def __init__(self, own: torch.Tensor, kl: torch.Tensor):
        super().__init__()
        self.own, self.kl = own, kl

    def forward(self, input_ids, **_):
        logps = self.kl if bool((input_ids == KL_TOKEN).all()) else self.own
        shape = logps.shape
        return types.SimpleNamespace(log_probs=logps, entropy=torch.zeros(shape), mean_logits=torch.zeros(shape),
                                     aux_loss=None)


def _trainer(model, beta, desirable, undesirable, tmp_path) -> KTOTrainer:
    args = KTOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, beta=beta, desirable_weight=desirable,
                     undesirable_weight=undesirable, precompute_ref_log_probs=True, report_to=[])
    trainer = KTOTrainer.__new__(KTOTrainer)
    trainer.__dict__.update(
        model=model, accelerator=Accelerator(cpu=True), args=args, beta=args.beta, loss_type=args.loss_type,
        desirable_weight=args.desirable_weight, undesirable_weight=args.undesirable_weight, calculate_KL=True,
        precompute_ref_logps=True, aux_loss_enabled=False, router_aux_loss_coef=0.0,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)}, _total_train_tokens=0, _tp_size=1)
    return trainer


def _mask(n: int, T: int, g: torch.Generator) -> torch.Tensor:
    mask = torch.zeros(n, T + 1, dtype=torch.long)
    for row, k in enumerate(torch.randint(1, T, (n,), generator=g).tolist()):
        mask[row, T + 1 - k:] = 1
    return mask


def _trl_loss(labels, beta, desirable, undesirable, seed, tmp_path):
    """TRL's loss and its gradient w.r.t. the rows' per-token log-probs, with the sums prefzoo needs."""
    g = torch.Generator().manual_seed(seed)
    n, T = len(labels), 10
    mask, kl_mask = _mask(n, T, g), _mask(n, T, g)
    own = (-torch.rand(n, T, generator=g) * 3 * mask[:, 1:]).requires_grad_(True)
    kl = -torch.rand(n, T, generator=g) * 3 * kl_mask[:, 1:]
    ref, ref_kl = -torch.rand(n, generator=g) * 15 - 1, -torch.rand(n, generator=g) * 15 - 1
    inputs = dict(input_ids=torch.zeros(n, T + 1, dtype=torch.long), attention_mask=torch.ones(n, T + 1, dtype=torch.long),
                  completion_mask=mask, label=torch.tensor(labels), ref_logps=ref, ref_KL_logps=ref_kl,
                  KL_input_ids=torch.full((n, T + 1), KL_TOKEN), KL_attention_mask=torch.ones(n, T + 1, dtype=torch.long),
                  KL_completion_mask=kl_mask)
    model = _PerTokenLogps(own, kl)
    loss = _trainer(model, beta, desirable, undesirable, tmp_path)._compute_loss(model, inputs, False)
    grad, = torch.autograd.grad(loss, own)
    return loss, grad, own.detach(), ref, kl.sum(1) - ref_kl


SETTINGS = [(0.1, 1.0, 1.0), (0.5, 1.0, 1.33), (2.0, 0.7, 1.0)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("beta,desirable,undesirable", SETTINGS)
def test_paired_kto_matches_trl(beta, desirable, undesirable, seed, tmp_path):
    assert trl.__version__.startswith("1.16"), f"the oracle is TRL 1.16; installed {trl.__version__}"
    B = 5
    trl_loss, trl_grad, own, ref, kl_logratio = _trl_loss([True] * B + [False] * B, beta, desirable, undesirable,
                                                          seed, tmp_path)
    ours_own = own.clone().requires_grad_(True)
    sums = ours_own.sum(1)
    kto = ALGORITHMS.get("kto")
    batch = PairLogps(sums[:B], sums[B:], ref[:B], ref[B:], kl_logratio=kl_logratio)
    ours = kto(kto.Config(beta=beta, desirable_weight=desirable, undesirable_weight=undesirable))(batch).loss
    our_grad, = torch.autograd.grad(ours, ours_own)
    assert abs(ours.item() - trl_loss.item()) < 1e-5, (ours.item(), trl_loss.item())
    assert torch.allclose(our_grad, trl_grad, atol=1e-5, rtol=1e-5)
    assert trl_grad.abs().sum() > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("beta,desirable,undesirable", SETTINGS)
def test_unpaired_kto_matches_trl(beta, desirable, undesirable, seed, tmp_path):
    labels = torch.rand(9, generator=torch.Generator().manual_seed(100 + seed)) < 0.35
    labels[0], labels[1] = True, False  # both kinds present
    trl_loss, trl_grad, own, ref, kl_logratio = _trl_loss(labels.tolist(), beta, desirable, undesirable, seed, tmp_path)
    ours_own = own.clone().requires_grad_(True)
    kto = ALGORITHMS.get("kto")(ALGORITHMS.get("kto").Config(beta=beta, desirable_weight=desirable,
                                                             undesirable_weight=undesirable))
    ours = kto.unpaired_loss(UnpairedLogps(ours_own.sum(1), ref, labels, kl_logratio)).loss
    our_grad, = torch.autograd.grad(ours, ours_own)
    assert abs(ours.item() - trl_loss.item()) < 1e-5, (ours.item(), trl_loss.item())
    assert torch.allclose(our_grad, trl_grad, atol=1e-5, rtol=1e-5)


def test_kto_by_hand_and_its_reference_point_is_clamped_and_detached():
    kto = ALGORITHMS.get("kto")()
    kl = torch.tensor([0.5, -0.1], requires_grad=True)
    b = PairLogps(torch.tensor([-3.0], requires_grad=True), torch.tensor([-5.0]), torch.tensor([-4.0]),
                  torch.tensor([-4.0]), kl_logratio=kl)
    out = kto(b)
    # z0 = 0.2, r_w = 1, r_l = -1: ((1 − σ(0.1·0.8)) + (1 − σ(0.1·1.2))) / 2
    expected = ((1 - torch.sigmoid(torch.tensor(0.08))) + (1 - torch.sigmoid(torch.tensor(0.12)))) / 2
    assert out.loss.item() == pytest.approx(expected.item(), abs=1e-7)
    out.loss.backward()
    assert kl.grad is None
    negative = kto(PairLogps(b.policy_chosen, b.policy_rejected, b.ref_chosen, b.ref_rejected,
                             kl_logratio=torch.tensor([-3.0, -1.0])))
    assert negative.metrics["kl"].item() == 0.0
    with pytest.raises(ValueError, match="kl_logratio"):
        kto(PairLogps(b.policy_chosen, b.policy_rejected, b.ref_chosen, b.ref_rejected))
    assert accepts_unpaired(kto) and not accepts_unpaired(ALGORITHMS.get("dpo"))


def test_mismatched_sequences_rotate_completions_by_one_row_as_trl_does():
    rows = [{"prompt_ids": [10 + i], "chosen_ids": [20 + i], "rejected_ids": [30 + i]} for i in range(3)]
    batch = collate_pairs(rows, pad_id=0, mismatched=True)
    own = batch["input_ids"][:, :2].tolist()
    kl = batch["mismatched_input_ids"][:, :2].tolist()
    # TRL: (x_1, y_n), (x_2, y_1), …, the 2B sequences in order
    assert kl == [[own[i][0], own[i - 1][1]] for i in range(6)]
    assert "mismatched_input_ids" not in collate_pairs(rows, pad_id=0)
