"""QLoRA gradients on a CPU stay those of the 4-bit base after eval-mode forwards.

bitsandbytes repacks an nf4 ``Linear4bit`` for CPU inference on its first eval-mode forward without
gradients when the CPU has AVX-512 BF16; its later forwards then leave the autograd graph (see
``keep_4bit_differentiable``). Whether a CPU has the instructions decides whether the bug shows, so
these tests make bitsandbytes believe it does (``has_avx512bf16`` patched before the model is built,
as a CPU with the instructions would report it): the repacking then happens on any CPU, and the
tests fail without the engine's fix on every machine.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from prefzoo.algorithms.engine.data import TokenizationSettings, collate_pairs, tokenize_pairs
from prefzoo.algorithms.engine.generation import sample_responses
from prefzoo.algorithms.engine.models import ModelSettings, add_adapter, load_base, load_tokenizer, model_fingerprint
from prefzoo.algorithms.engine.pairwise import TrainSettings, pair_logps, train_pairwise
from prefzoo.algorithms.engine.reference import (cache_key, cached_reference_logps, compute_reference_logps,
                                                 with_reference)
from prefzoo.benchmarks.harness.results import load_results
from prefzoo.registry import ALGORITHMS
from tests.helpers import run_cli
from tests.tiny_lm import make_tiny_lm, pairs, policy

PROMPTS = [[{"role": "user", "content": f"write a review about the {s}"}] for s in ("pizza", "cafe", "movie")]
# Imported first by a child Python through PYTHONPATH: the CLI's process then sees the same CPU.
SITECUSTOMIZE = "import bitsandbytes.nn.modules as m\nm.has_avx512bf16 = lambda: True\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def avx512bf16_cpu(monkeypatch):
    import bitsandbytes.nn.modules as modules

    monkeypatch.setattr(modules, "has_avx512bf16", lambda: True)


def test_the_simulated_cpu_repacks_a_plain_layer_and_loses_its_input_gradient(avx512bf16_cpu):
    """The condition the fix answers, on a bare bitsandbytes layer: the test above it can fail."""
    import bitsandbytes as bnb

    torch.manual_seed(0)
    layer = bnb.nn.Linear4bit(64, 128, quant_type="nf4", compute_dtype=torch.float32)
    layer.load_state_dict(torch.nn.Linear(64, 128).state_dict())
    layer = layer.to("cpu")  # quantises the weight
    assert layer.support_avx512bf16_for_cpu
    x = torch.randn(4, 64, requires_grad=True)
    before = torch.autograd.grad(layer(x).square().sum(), x)[0]
    layer.eval()
    with torch.no_grad():
        layer(x.detach())
    assert layer.weight.quant_state.packing_format_for_cpu
    layer.train()
    try:
        after = torch.autograd.grad(layer(x).square().sum(), x, allow_unused=True)[0]
    except RuntimeError:  # versions where the output leaves the graph entirely
        after = None
    assert after is None or (after - before).abs().max() > 1e-3


def _lora_grads(model, batch) -> dict[str, torch.Tensor]:
    dpo = ALGORITHMS.get("dpo")()
    model.train()
    model.zero_grad(set_to_none=True)
    dpo(pair_logps(model, batch)).loss.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _dequantised(model) -> None:
    """Replace every nf4 base layer by an ``nn.Linear`` holding its dequantised float32 weight."""
    import bitsandbytes as bnb
    from bitsandbytes.functional import dequantize_4bit

    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, bnb.nn.Linear4bit):
                weight = dequantize_4bit(child.weight.data, child.weight.quant_state).float()
                dense = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=child.bias is not None)
                dense.weight = torch.nn.Parameter(weight, requires_grad=False)
                if child.bias is not None:
                    dense.bias = torch.nn.Parameter(child.bias.detach().float(), requires_grad=False)
                setattr(module, name, dense)


def test_lora_gradients_survive_reference_and_generation_forwards(tiny, avx512bf16_cpu, recwarn):
    settings, tok, model = policy(tiny, quantize=True)
    data = tokenize_pairs(pairs(4), tok, TokenizationSettings())
    refs = compute_reference_logps(model, data, tok.pad_token_id)
    batch = collate_pairs(list(with_reference(data, refs)), tok.pad_token_id)
    fresh = _lora_grads(model, batch)

    compute_reference_logps(model, data, tok.pad_token_id)  # eval mode, adapter disabled, no gradients
    sample_responses(model, tok, PROMPTS, 2, 6, 4, seed=1)  # eval mode, generation
    after = _lora_grads(model, batch)

    _, _, dense = policy(tiny, quantize=True)
    _dequantised(dense)
    exact = _lora_grads(dense, batch)
    assert fresh.keys() == after.keys() == exact.keys() and len(fresh) > 0
    for name in fresh:
        assert torch.allclose(after[name], fresh[name], atol=1e-5, rtol=0), name
        assert torch.allclose(fresh[name], exact[name], atol=1e-5, rtol=0), name
    # the warning users saw on every LM cell ("gemv_4bit: an autograd kernel was not registered") is gone
    # because that path is never taken, not because it is filtered
    assert not [w for w in recwarn if "gemv_4bit" in str(w.message) or "autograd kernel" in str(w.message)]


def test_a_step_after_eval_forwards_equals_a_step_on_a_fresh_load(tiny, avx512bf16_cpu):
    """The same step from the same reference numbers: once on the model that computed them and then
    sampled, once on a fresh load that has run no forward before training."""
    train = TrainSettings(steps=1, batch_size=4, micro_batch_size=2, learning_rate=1e-2)
    _, tok, used = policy(tiny, quantize=True)
    data = tokenize_pairs(pairs(4), tok, TokenizationSettings())
    data = with_reference(data, compute_reference_logps(used, data, tok.pad_token_id))
    sample_responses(used, tok, PROMPTS, 2, 6, 4, seed=1)
    _, _, fresh = policy(tiny, quantize=True)
    trained = []
    for model in (used, fresh):
        train_pairwise(ALGORITHMS.get("dpo")(), model, data, tok.pad_token_id, train)
        trained.append({n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad})
    for name in trained[0]:
        assert torch.allclose(trained[0][name], trained[1][name], atol=1e-6, rtol=0), name


def test_the_first_dpo_margin_is_zero_with_a_computed_or_a_cached_reference(tiny, tmp_path, avx512bf16_cpu):
    """π = π_ref at initialisation (LoRA B = 0), whichever process computed the reference log-probs."""
    settings = ModelSettings(model=str(tiny), quantize=True, lora_r=4, lora_alpha=8)
    tok = load_tokenizer(settings)
    train = TrainSettings(steps=1, batch_size=4, micro_batch_size=4, learning_rate=1e-2)
    margins = []
    for _ in ("cold cache", "warm cache"):
        torch.manual_seed(0)
        model = add_adapter(load_base(settings, torch.device("cpu")), settings)
        data = tokenize_pairs(pairs(8), tok, TokenizationSettings())
        key = cache_key(model_fingerprint(settings), data, TokenizationSettings().to_dict())
        refs, _ = cached_reference_logps(model, data, tok.pad_token_id, key, tmp_path)
        result = train_pairwise(ALGORITHMS.get("dpo")(), model, with_reference(data, refs), tok.pad_token_id, train)
        margins.append(result.history[0]["margin"])
    assert margins[0] == pytest.approx(0, abs=1e-5) and margins[1] == pytest.approx(0, abs=1e-5)


def _numbers(doc: dict) -> dict:
    """A result document without what depends on the clock or the machine."""
    timing = {"wall_time_s", "tokens_per_s", "peak_memory_bytes", "sampling_tokens_per_s"}
    train = {k: v for k, v in doc["train"].items() if k not in timing}
    evaluation = {k: v for k, v in doc["eval"].items() if k not in timing}
    return {"train": train, "eval": evaluation, "hash": doc["hash"]}


@pytest.mark.slow
def test_a_run_resumed_from_a_warm_cache_writes_the_numbers_of_an_uninterrupted_run(tiny, tmp_path, monkeypatch):
    """The CLI in child processes on the simulated CPU: the uninterrupted run evaluates the reference
    (generation) before training DPO; the resumed one reads the reference log-probs from the cache
    and trains first."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    monkeypatch.setenv("PREFZOO_CACHE", str(tmp_path / "cache"))
    args = ["bench", "--suite", "smol-sentiment", "--steps", "2", "--seeds", "1", "--algorithms", "dpo",
            "--model", str(tiny), "--plot", str(tmp_path / "p.png")]
    docs = []
    for run in ("whole", "resumed"):
        results = tmp_path / run
        if run == "resumed":  # the reference cell done, the DPO cell lost
            shutil.copytree(tmp_path / "whole" / "smol-sentiment" / "reference", results / "smol-sentiment" / "reference")
        out = run_cli(*args, "--results", str(results), site=site, cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        assert ("done already" in out.stdout) == (run == "resumed")
        docs.append(next(d for d in load_results(results, "smol-sentiment") if d["algorithm"] == "dpo"))
    assert docs[0]["train"]["history"][0]["margin"] == pytest.approx(0, abs=1e-5)
    assert json.dumps(_numbers(docs[0]), sort_keys=True) == json.dumps(_numbers(docs[1]), sort_keys=True)
