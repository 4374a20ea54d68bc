"""A plain compute-dtype copy of the policy (or of π_ref) for sampling on a GPU.

Token-by-token decoding of an nf4 model is slow on a GPU: at every step bitsandbytes dequantises each
4-bit weight for a matmul of a few rows, and peft runs each LoRA branch as two more small matmuls. A
copy whose weights are the dequantised nf4 weights plus the adapter's ΔW = B·A·α/r (the same numbers
the 4-bit layer computes with, in the compute dtype) decodes as a plain model. It costs one
compute-dtype copy of the base (2 bytes a parameter in bfloat16) and is rebuilt from the current
adapter on every sampling call, so it never goes stale. The copy's skeleton is built once per model.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from prefzoo.algorithms.engine.models import causal_lm_of

_SKELETONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def has_4bit_layers(model) -> bool:
    import bitsandbytes as bnb

    return any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())


def copy_fits(model, fraction: float = 0.5) -> bool:
    """Whether a compute-dtype copy of ``model``'s weights takes under ``fraction`` of the device's free memory."""
    device = next(model.parameters()).device
    if device.type != "cuda":
        return False
    causal = causal_lm_of(model)
    n = sum(p.numel() * (2 if p.__class__.__name__ == "Params4bit" else 1) for p in causal.parameters())
    free, _ = torch.cuda.mem_get_info(device)
    return n * 2 < fraction * free


@torch.no_grad()
def merged_copy(model, reference: bool = False) -> nn.Module:
    """``model`` (a peft model on an nf4 base) as a plain model in its compute dtype: dequantised
    weights, plus each active LoRA adapter's ΔW unless ``reference`` (π_ref: the base alone). Eval mode."""
    import bitsandbytes as bnb
    from peft.tuners.lora import LoraLayer
    from transformers import AutoModelForCausalLM

    causal = causal_lm_of(model)
    device = next(causal.parameters()).device
    dtype = next(m for m in causal.modules() if isinstance(m, bnb.nn.Linear4bit)).compute_dtype or torch.bfloat16
    state: dict[str, torch.Tensor] = {}
    for name, module in causal.named_modules():
        if isinstance(module, LoraLayer):
            base = module.get_base_layer()
            weight = _dense_weight(base).to(dtype)
            if not reference and not module.disable_adapters:
                for adapter in module.active_adapters:
                    if adapter in module.lora_A:
                        weight = weight + module.get_delta_weight(adapter).to(dtype)
            state[f"{name}.weight"] = weight
            if base.bias is not None:
                state[f"{name}.bias"] = base.bias.to(dtype)
        elif isinstance(module, bnb.nn.Linear4bit) and not name.endswith(".base_layer"):  # not under LoRA
            state[f"{name}.weight"] = _dense_weight(module).to(dtype)
            if module.bias is not None:
                state[f"{name}.bias"] = module.bias.to(dtype)
    for name, param in causal.named_parameters():
        if ".base_layer." in name or "lora_" in name or name in state:
            continue
        if param.__class__.__name__ == "Params4bit":
            continue
        state[name] = param.to(dtype)
    copy = _SKELETONS.get(causal)
    if copy is None:
        with torch.device(device):
            copy = AutoModelForCausalLM.from_config(causal.config, dtype=dtype)
        copy.generation_config = causal.generation_config
        _SKELETONS[causal] = copy
    missing, unexpected = copy.load_state_dict(state, strict=False)
    tied = {k for k in missing if k.endswith("lm_head.weight")} if causal.config.get_text_config().tie_word_embeddings \
        else set()
    if unexpected or set(missing) - tied:
        raise RuntimeError(f"merged copy does not match the model: missing {sorted(set(missing) - tied)[:5]}, "
                           f"unexpected {sorted(unexpected)[:5]}")
    return copy.eval()


def _dense_weight(layer) -> torch.Tensor:
    import bitsandbytes as bnb

    weight = layer.weight
    if weight.__class__.__name__ == "Params4bit":
        return bnb.functional.dequantize_4bit(weight.data, weight.quant_state)
    return weight.data
