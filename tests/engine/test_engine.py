"""The LM engine on a tiny random-initialised model (no download): QLoRA loading, the reference as
the adapter-disabled base, the cached reference log-probs, one training step against a hand
computation, adapters in PEFT format, and refused datasets."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from prefzoo.algorithms.engine.data import DatasetError, TokenizationSettings, collate_pairs, tokenize_pairs
from prefzoo.algorithms.engine.logprobs import sequence_logps
from prefzoo.algorithms.engine.models import ModelSettings, load_base, load_tokenizer, model_fingerprint, reference_mode
from prefzoo.algorithms.engine.pairwise import TrainSettings, train_pairwise, visit_order
from prefzoo.algorithms.engine.reference import (cache_key, cached_reference_logps, compute_reference_logps,
                                                 with_reference)
from prefzoo.registry import ALGORITHMS
from tests.tiny_lm import make_tiny_lm, pairs, policy

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")



def manual_sequence_logps(model, prompt_ids, completion_ids):
    """log π(completion | prompt) by an explicit loop over positions (independent of the engine's code)."""
    ids = torch.tensor([prompt_ids + completion_ids])
    log_probs = F.log_softmax(model(input_ids=ids).logits[0].double(), -1)
    return sum(log_probs[len(prompt_ids) + t - 1, tok] for t, tok in enumerate(completion_ids))


@pytest.mark.parametrize("quantize", [False, True], ids=["lora", "qlora-nf4"])
def test_qlora_base_is_4bit_and_only_the_adapter_trains(tiny, quantize):
    _, _, model = policy(tiny, quantize)
    linear = model.base_model.model.model.layers[0].self_attn.q_proj.base_layer
    assert (type(linear).__name__ == "Linear4bit") == quantize
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def test_engine_logps_match_an_explicit_loop(tiny):
    _, tok, model = policy(tiny, quantize=False)
    data = tokenize_pairs(pairs(4), tok, TokenizationSettings())
    logps, lengths = sequence_logps(model, collate_pairs(list(data), tok.pad_token_id))
    for i, row in enumerate(data):
        assert logps[i].item() == pytest.approx(manual_sequence_logps(model, row["prompt_ids"], row["chosen_ids"]).item(), abs=1e-4)
        assert logps[4 + i].item() == pytest.approx(manual_sequence_logps(model, row["prompt_ids"], row["rejected_ids"]).item(), abs=1e-4)
        assert lengths[i] == len(row["chosen_ids"])


def test_one_engine_step_is_the_hand_computed_dpo_adam_step(tiny):
    """One AdamW step (no clipping, no decay) moves each adapter weight by −lr·g/(|g|+ε), g the gradient
    of the DPO loss computed here by hand from explicit log-probs and the adapter-disabled reference."""
    _, tok, model = policy(tiny, quantize=False)
    data = tokenize_pairs(pairs(4), tok, TokenizationSettings())
    beta, lr = 0.5, 1e-3
    named = {n: p for n, p in model.named_parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in named.items()}

    with reference_mode(model):
        ref = [(manual_sequence_logps(model, r["prompt_ids"], r["chosen_ids"]),
                manual_sequence_logps(model, r["prompt_ids"], r["rejected_ids"])) for r in data]
    model.train()
    losses = []
    for r, (ref_c, ref_r) in zip(data, ref):
        pol_c = manual_sequence_logps(model, r["prompt_ids"], r["chosen_ids"])
        pol_r = manual_sequence_logps(model, r["prompt_ids"], r["rejected_ids"])
        losses.append(-F.logsigmoid(beta * ((pol_c - ref_c) - (pol_r - ref_r))))
    hand_loss = torch.stack(losses).mean()
    grads = torch.autograd.grad(hand_loss, list(named.values()))
    expected = {n: before[n] - lr * g.float() / (g.float().abs() + 1e-8) for n, g in zip(named, grads)}

    refs = compute_reference_logps(model, data, tok.pad_token_id)
    dpo = ALGORITHMS.get("dpo")(ALGORITHMS.get("dpo").Config(beta=beta))
    result = train_pairwise(dpo, model, with_reference(data, refs), tok.pad_token_id,
                            TrainSettings(steps=1, batch_size=4, micro_batch_size=2, learning_rate=lr, max_grad_norm=0.0))
    assert result.history[0]["loss"] == pytest.approx(hand_loss.item(), abs=1e-5)
    moved = 0
    for n, p in named.items():
        assert torch.allclose(p.detach(), expected[n], atol=2e-5), n
        moved += int((p.detach() - before[n]).abs().max() > 1e-4)
    assert moved == len(named)


@pytest.mark.parametrize("quantize", [False, True], ids=["lora", "qlora-nf4"])
def test_cached_reference_equals_fresh_and_ignores_the_trained_adapter(tiny, tmp_path, quantize):
    settings, tok, model = policy(tiny, quantize)
    data = tokenize_pairs(pairs(10), tok, TokenizationSettings())
    key = cache_key(model_fingerprint(settings), data, TokenizationSettings().to_dict())
    first, computed = cached_reference_logps(model, data, tok.pad_token_id, key, tmp_path)
    assert computed == len(data) and (tmp_path / "reference" / f"{key}.pt").exists()
    train_pairwise(ALGORITHMS.get("ipo")(), model, with_reference(data, first), tok.pad_token_id,
                   TrainSettings(steps=3, batch_size=4, micro_batch_size=4, learning_rate=5e-2))
    again, computed = cached_reference_logps(model, data, tok.pad_token_id, key, tmp_path)
    fresh = compute_reference_logps(model, data, tok.pad_token_id)
    assert computed == 0 and torch.equal(again, first)
    assert torch.allclose(fresh, first, atol=1e-4)  # the reference did not move with the policy
    policy_now = sequence_logps(model.eval(), collate_pairs(list(data), tok.pad_token_id))[0].detach()
    assert (policy_now - torch.cat([first[:, 0], first[:, 1]])).abs().max() > 1e-2  # the policy did


def test_cache_key_changes_with_data_and_tokenisation(tiny):
    settings, tok, _ = policy(tiny, quantize=False)
    a = tokenize_pairs(pairs(6), tok, TokenizationSettings())
    b = tokenize_pairs(pairs(7), tok, TokenizationSettings())
    fp = model_fingerprint(settings)
    assert cache_key(fp, a, {"x": 1}) == cache_key(fp, a, {"x": 1})
    assert cache_key(fp, a, {"x": 1}) != cache_key(fp, b, {"x": 1})
    assert cache_key(fp, a, {"x": 1}) != cache_key(fp, a, {"x": 2})
    assert model_fingerprint(settings) != model_fingerprint(ModelSettings(model=str(tiny), quantize=True))


def test_adapter_saves_in_peft_format_and_reloads(tiny, tmp_path):
    from peft import PeftModel

    settings, tok, model = policy(tiny, quantize=False)
    batch = collate_pairs(list(tokenize_pairs(pairs(3), tok, TokenizationSettings())), tok.pad_token_id)
    expected = sequence_logps(model.eval(), batch)[0]
    model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    reloaded = PeftModel.from_pretrained(load_base(settings, CPU), tmp_path / "adapter").eval()
    assert torch.allclose(sequence_logps(reloaded, batch)[0], expected, atol=1e-5)


@pytest.mark.parametrize("row,message", [
    ({"prompt": "write a review", "chosen": "good"}, "row 0: field 'rejected' is missing or empty"),
    ({"prompt": "write a review", "chosen": "", "rejected": "bad"}, "row 0, field 'chosen': empty text"),
    ({"prompt": "write a review", "chosen": 3, "rejected": "bad"}, "row 0, field 'chosen': expected text"),
    ({"prompt": "write a review", "chosen": "good", "rejected": "good"}, "row 0: fields 'chosen' and 'rejected' are identical"),
    ({"prompt": "review " * 200, "chosen": "good", "rejected": "bad"}, "row 0, field 'prompt': 200 tokens, over max_prompt_length=128"),
    ({"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": ""}],
      "rejected": [{"role": "assistant", "content": "bad"}]}, "row 0, field 'chosen', message 0"),
    ({"prompt": [{"role": "user", "content": "hi"}], "chosen": "good", "rejected": "bad"}, "must all be text or all be conversations"),
])
def test_bad_datasets_are_refused_naming_row_and_field(tiny, row, message):
    tok = load_tokenizer(ModelSettings(model=str(tiny)))
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tokenize_pairs([row], tok, TokenizationSettings(), source="test")


def test_bad_row_is_named_by_its_index(tiny):
    tok = load_tokenizer(ModelSettings(model=str(tiny)))
    rows = pairs(5)
    rows[3] = dict(rows[3], rejected=rows[3]["chosen"])
    with pytest.raises(DatasetError, match="test, row 3: fields 'chosen' and 'rejected' are identical"):
        tokenize_pairs(rows, tok, TokenizationSettings(), source="test")


def test_conversational_pairs_use_the_chat_template(tiny):
    tok = load_tokenizer(ModelSettings(model=str(tiny)))
    row = {"prompt": [{"role": "user", "content": "write a review"}],
           "chosen": [{"role": "assistant", "content": "good food"}],
           "rejected": [{"role": "assistant", "content": "bad food"}]}
    (t,) = list(tokenize_pairs([row], tok, TokenizationSettings()))
    assert tok.decode(t["prompt_ids"]) == "<user> write a review <eos> <assistant>"
    assert tok.decode(t["chosen_ids"]) == "good food <eos>"


def test_reference_log_probs_are_computed_for_the_rows_a_run_reads_only(tiny, tmp_path):
    settings, tok, model = policy(tiny, False)
    data = tokenize_pairs(pairs(10), tok, TokenizationSettings())
    key = cache_key(model_fingerprint(settings), data, TokenizationSettings().to_dict())
    train = TrainSettings(steps=1, batch_size=4, micro_batch_size=4, learning_rate=1e-2, seed=3)
    order = visit_order(len(data), train)
    assert len(order) == 4 and len(set(order)) == 4
    assert visit_order(len(data), TrainSettings(steps=5, batch_size=4, micro_batch_size=4, seed=3))[:4] == order
    partial, computed = cached_reference_logps(model, data, tok.pad_token_id, key, tmp_path, rows=order)
    assert computed == 4 and partial.isnan().any(1).sum() == 6 and not partial[order].isnan().any()
    full = compute_reference_logps(model, data, tok.pad_token_id)
    assert torch.allclose(partial[order], full[order], atol=1e-5)
    train_pairwise(ALGORITHMS.get("dpo")(), model, with_reference(data, partial), tok.pad_token_id, train)
    other_seed = dataclasses.replace(train, seed=4)  # reads rows whose reference was never computed
    assert set(visit_order(len(data), other_seed)) - set(order)
    with pytest.raises(ValueError, match="reference log-probs of"):
        train_pairwise(ALGORITHMS.get("dpo")(), model, with_reference(data, partial), tok.pad_token_id, other_seed)
    _, computed = cached_reference_logps(model, data, tok.pad_token_id, key, tmp_path)  # the rest, later
    assert computed == 6


@pytest.mark.parametrize("reference", [False, True], ids=["policy", "reference"])
def test_sample_log_probs_from_the_sampler_equal_a_fresh_forward(tiny, reference):
    """The log-probs read from generation's logits are the sampling policy's sequence log-probs."""
    from prefzoo.algorithms.engine.data import collate_sequences, prompt_token_ids
    from prefzoo.algorithms.engine.generation import sample_responses

    _, tok, model = policy(tiny, quantize=False)
    prompts = [[{"role": "user", "content": f"write a review about the {s}"}] for s in ("pizza", "cafe", "movie")]
    samples = sample_responses(model, tok, prompts, 2, 6, 4, seed=3, reference=reference, with_logps=True)
    batch = collate_sequences([prompt_token_ids(tok, prompts[s.prompt_index]) for s in samples],
                              [s.completion_ids for s in samples], tok.pad_token_id)
    with (reference_mode(model) if reference else torch.no_grad()):
        fresh, _ = sequence_logps(model.eval(), batch)
    assert torch.allclose(torch.tensor([s.logp for s in samples]), fresh.float(), atol=1e-4)
