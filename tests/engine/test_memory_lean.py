"""The memory-lean paths give today's numbers: chunked vocabulary log-probs, gradient checkpointing
and the merged sampling copy, each against the plain computation on a tiny model."""

from __future__ import annotations

import pytest
import torch

from prefzoo.algorithms.engine import logprobs
from prefzoo.algorithms.engine.checkpointing import choose_gradient_checkpointing, longest_rows, parse_bytes
from prefzoo.algorithms.engine.data import TokenizationSettings, collate_pairs, tokenize_pairs
from prefzoo.algorithms.engine.generation import sample_responses
from prefzoo.algorithms.engine.merged import merged_copy
from prefzoo.algorithms.engine.models import eval_mode, reference_mode, set_gradient_checkpointing
from prefzoo.algorithms.engine.pairwise import TrainSettings, train_pairwise
from prefzoo.algorithms.engine.reference import compute_reference_logps, with_reference
from prefzoo.algorithms.framework.base import PairLogps
from prefzoo.registry import ALGORITHMS
from tests.tiny_lm import make_tiny_lm, pairs, policy


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


def _batch(tok, n=6):
    return collate_pairs(list(tokenize_pairs(pairs(n), tok, TokenizationSettings())), tok.pad_token_id)


def full_logits_token_logps(model, batch, with_entropy=False):
    """The computation before chunking: the model's own logits at response positions, whole."""
    start = logprobs.response_start(batch)
    keep = batch["completion_mask"].shape[1] - start + 1
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   logits_to_keep=keep).logits[:, :-1].float()
    log_z = torch.logsumexp(logits, -1)
    token = logits.gather(-1, batch["input_ids"][:, start:].unsqueeze(-1)).squeeze(-1) - log_z
    entropy = log_z - (torch.softmax(logits, -1) * logits).sum(-1) if with_entropy else None
    return token, entropy


def _dpo_loss_and_grads(model, token_logps, batch):
    mask = batch["completion_mask"][:, logprobs.response_start(batch):].float()
    chosen, rejected = (token_logps * mask).sum(-1).chunk(2)
    loss = ALGORITHMS.get("dpo")()(PairLogps(chosen, rejected, chosen.detach() - 0.1, rejected.detach() + 0.1)).loss
    model.zero_grad()
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("quantize", [False, True])
def test_chunked_log_probs_give_the_full_logits_loss_and_gradients(tiny, quantize, monkeypatch):
    _, tok, model = policy(tiny, quantize)
    batch = _batch(tok)
    want_logps, want_entropy = full_logits_token_logps(model, batch, with_entropy=True)
    want_loss, want_grads = _dpo_loss_and_grads(model, want_logps, batch)
    monkeypatch.setattr(logprobs, "LOGITS_CHUNK_BYTES", 1)  # one row a group: 12 checkpointed groups
    assert logprobs.rows_per_group(12, 10, 64) == 1
    got_logps, mask, got_entropy = logprobs.response_token_logps(model, batch, with_entropy=True)
    got_loss, got_grads = _dpo_loss_and_grads(model, got_logps, batch)
    assert mask.shape == got_logps.shape == want_logps.shape
    torch.testing.assert_close(got_logps, want_logps.detach(), atol=1e-5, rtol=0)
    torch.testing.assert_close(got_entropy, want_entropy.detach(), atol=1e-5, rtol=0)
    torch.testing.assert_close(got_loss, want_loss, atol=1e-5, rtol=0)
    assert got_grads.keys() == want_grads.keys() and len(got_grads) == 4 * 7  # A and B of 7 modules × 2 layers
    for name in want_grads:
        torch.testing.assert_close(got_grads[name], want_grads[name], atol=1e-5, rtol=1e-4, msg=name)


def test_a_batch_within_one_group_takes_the_unchunked_path_bit_for_bit(tiny):
    _, tok, model = policy(tiny, quantize=True)
    batch = _batch(tok)
    with torch.no_grad():
        want, _ = full_logits_token_logps(model, batch)
        got, _, _ = logprobs.response_token_logps(model, batch)
    assert torch.equal(got, want)


def test_gradient_checkpointing_changes_no_gradient(tiny):
    _, tok, model = policy(tiny, quantize=True)
    batch = _batch(tok)
    model.train()
    grads = []
    for on in (False, True):
        set_gradient_checkpointing(model, on)
        assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules()) is on
        grads.append(_dpo_loss_and_grads(model, logprobs.response_token_logps(model, batch)[0], batch)[1])
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-6, rtol=1e-5, msg=name)


def test_auto_checkpointing_stays_off_on_a_cpu_and_is_recorded(tiny):
    _, tok, model = policy(tiny, quantize=True)
    data = tokenize_pairs(pairs(8), tok, TokenizationSettings())
    data = with_reference(data, compute_reference_logps(model, data, tok.pad_token_id))
    assert choose_gradient_checkpointing(model, _batch(tok), budget=None) is False
    rows = longest_rows(data, 3)
    assert [len(r["prompt_ids"]) + max(len(r["chosen_ids"]), len(r["rejected_ids"])) for r in rows] == \
        sorted((len(r["prompt_ids"]) + max(len(r["chosen_ids"]), len(r["rejected_ids"])) for r in data),
               reverse=True)[:3]
    result = train_pairwise(ALGORITHMS.get("dpo")(), model, data, tok.pad_token_id,
                            TrainSettings(steps=1, batch_size=4, micro_batch_size=4, mixed_precision="auto"),
                            gradient_checkpointing="auto")
    assert result.gradient_checkpointing is False


def test_memory_sizes_parse_and_bad_ones_are_named():
    assert parse_bytes("24GiB") == 24 * 2**30 and parse_bytes("1.5 GB") == 1_500_000_000 and parse_bytes("512") == 512
    with pytest.raises(ValueError, match="'24 parsecs'"):
        parse_bytes("24 parsecs")
    with pytest.raises(ValueError, match="mixed_precision = 'bf32'"):
        TrainSettings(mixed_precision="bf32")


def test_the_merged_sampling_copy_computes_the_policy_and_the_reference(tiny):
    _, tok, model = policy(tiny, quantize=True)
    ids = torch.tensor([[2, 5, 8, 9, 10, 11, 12, 13]])
    with torch.no_grad(), eval_mode(model):
        policy_logits = model(input_ids=ids).logits
        with reference_mode(model):
            reference_logits = model(input_ids=ids).logits
    assert (policy_logits - reference_logits).abs().max() > 0.05  # the adapter matters
    torch.testing.assert_close(merged_copy(model)(input_ids=ids).logits, policy_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(merged_copy(model, reference=True)(input_ids=ids).logits, reference_logits,
                               atol=1e-5, rtol=0)
    prompts = ["write a review about the pizza", "write a review about the cafe"]
    for reference in (False, True):
        plain = sample_responses(model, tok, prompts, 4, 8, 4, seed=3, reference=reference, merged=False)
        merged = sample_responses(model, tok, prompts, 4, 8, 4, seed=3, reference=reference, merged=True)
        assert [s.completion_ids for s in merged] == [s.completion_ids for s in plain]


def test_a_shape_is_built_once_with_its_sizes_and_long_pairs_have_their_lengths(tiny, tmp_path, monkeypatch):
    from transformers import AutoConfig, AutoTokenizer

    from prefzoo.benchmarks.studies import model_shapes

    monkeypatch.setitem(model_shapes.SHAPES, "tiny-shape", dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
        vocab_size=96, max_position_embeddings=128))
    folder = model_shapes.build_shape("tiny-shape", tiny, tmp_path)
    config = AutoConfig.from_pretrained(folder)
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers) == (96, 32, 1)
    assert model_shapes.build_shape("tiny-shape", tiny, tmp_path) == folder  # built once
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging folder left
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for n in (1, 7, 40):
        assert len(tokenizer(model_shapes.text_of_tokens(tokenizer, n), add_special_tokens=False)["input_ids"]) <= n
    with pytest.raises(ValueError, match="unknown shape 'nope'"):
        model_shapes.build_shape("nope", tiny, tmp_path)
