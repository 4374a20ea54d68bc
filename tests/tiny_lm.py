"""A tiny random-initialised causal LM with a word-level tokenizer, saved to a folder: the engine's
tests run on it with no download."""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = ("the a good bad great awful food service place was is and very not i loved hated it this "
         "review write about pizza cafe shop movie book staff nice terrible fine okay really so").split()
CHAT_TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} <eos> {% endfor %}"
                 "{% if add_generation_prompt %}<assistant> {% endif %}")


def make_tiny_lm(folder: Path, seed: int = 0, layers: int = 2, hidden: int = 64) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<bos>", "<eos>", "<user>", "<assistant>", "<system>"]
    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>",
                                        bos_token="<bos>", eos_token="<eos>")
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=64, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, pad_token_id=0, bos_token_id=2, eos_token_id=3)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def pairs(n: int = 12) -> list[dict[str, str]]:
    subjects = ["pizza", "cafe", "movie", "book", "shop", "staff"]
    return [{"prompt": f"write a review about the {subjects[i % 6]}",
             "chosen": f"i loved the {subjects[i % 6]} it was {'very ' * (i % 3)}good",
             "rejected": f"i hated the {subjects[i % 6]} it was bad"} for i in range(n)]


def policy(folder: Path, quantize: bool, seed: int = 0):
    """(settings, tokenizer, model): the tiny LM with a LoRA adapter whose B is small and random, so
    every adapter weight trains (B = 0 gives A no gradient) and π ≠ π_ref from the start."""
    from prefzoo.algorithms.engine.models import ModelSettings, add_adapter, load_base, load_tokenizer

    settings = ModelSettings(model=str(folder), quantize=quantize, lora_r=4, lora_alpha=8)
    torch.manual_seed(seed)
    model = add_adapter(load_base(settings, torch.device("cpu")), settings)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    return settings, load_tokenizer(settings), model


def make_tiny_reward_model(folder: Path, seed: int = 0, num_labels: int = 1) -> Path:
    """The tiny LM's tokenizer and shape with a sequence-classification head of ``num_labels`` outputs,
    random-initialised and saved: a reward model for the judges' tests."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    lm = make_tiny_lm(folder.parent / f"{folder.name}-lm", seed)
    config = LlamaConfig.from_pretrained(lm)
    config.num_labels, config.architectures = num_labels, None
    torch.manual_seed(seed)
    LlamaForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(lm).save_pretrained(folder)
    return folder
