"""Real architecture shapes with random weights, built from a config in code, for speed and memory
benchmarks where weights cannot be downloaded.

Every shape is a ``LlamaConfig`` with the named model's sizes (Qwen2.5 differs from Llama only by
q/k/v biases, which change no matmul's shape), tied embeddings, and a real tokenizer copied next to
it, so the engine loads it like any checkpoint. Random weights never emit end-of-sequence: samples
run to their token limit, so sampling times are upper bounds.
"""

from __future__ import annotations

from pathlib import Path

import torch

from prefzoo.algorithms.engine.models import save_checkpoint

SHAPES: dict[str, dict] = {
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192),
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768),
    # A CPU proxy of the vocabulary's memory effect: Qwen2.5's 151,936-token vocabulary on two thin layers.
    "proxy-151k": dict(hidden_size=256, intermediate_size=704, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, vocab_size=151936, max_position_embeddings=4096),
}


def build_shape(name: str, tokenizer_dir: Path, root: Path, seed: int = 0) -> Path:
    """The folder of a random-init model of shape ``name`` with the tokenizer of ``tokenizer_dir``;
    built once under ``root`` (atomically, see ``save_checkpoint``)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    if name not in SHAPES:
        raise ValueError(f"unknown shape {name!r}; shapes: {', '.join(SHAPES)}")
    target = root / f"{name}-seed{seed}"
    if (target / "config.json").exists():
        return target
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    if len(tokenizer) > SHAPES[name]["vocab_size"]:
        raise ValueError(f"{tokenizer_dir}: {len(tokenizer)} tokens do not fit shape {name}'s vocabulary")
    config = LlamaConfig(**SHAPES[name], tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(seed)
    with torch.device(device):  # initialising 1.5B weights on 2 CPU cores takes minutes
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    try:
        return save_checkpoint(model, tokenizer, target)
    finally:
        del model
        if device == "cuda":  # hand the memory back before benchmarks measure in child processes
            torch.cuda.empty_cache()


def text_of_tokens(tokenizer, n: int, offset: int = 0) -> str:
    """Plain text of about ``n`` tokens (common words, each one token in BPE vocabularies), different
    for each ``offset``."""
    words = ("good food and the staff were very kind but the place was quite loud so we left early "
             "after a long wait for our table in the small room near the door").split()
    text = " ".join(words[(offset + i) % len(words)] for i in range(n))
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    while len(ids) > n:  # a few words may take two tokens: drop words until it fits
        text = text.rsplit(" ", 1)[0]
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text
