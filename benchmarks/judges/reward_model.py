"""A reward model as the judge: any sequence-classification model with one output, from a local folder
or a hub id."""

from __future__ import annotations

from pathlib import Path

import torch

from prefzoo.benchmarks.judges.base import Judge, JudgeError
from prefzoo.registry import JUDGES

OPTIONS = {"quantize": ("nf4", "none"), "batch_size": None}
"""``reward-model:PATH,quantize=nf4,batch_size=16``: the options after the path, and their values."""


@JUDGES.register("reward-model")
class RewardModelJudge(Judge):
    """r(x, y) = the single logit of an ``AutoModelForSequenceClassification`` on the prompt and response
    (the Bradley–Terry reward model of Ouyang et al. 2022, Eq. 1, and of every RLHF pipeline since), read
    at the last token. The pair is rendered by the model's own chat template when its tokenizer has one
    (prompt messages, then the response as the assistant's turn), else as prompt text followed by the
    response. Scored in batches of ``batch_size`` on the run's device (bfloat16 on CUDA, float32 on a
    CPU), optionally as nf4 (``quantize=nf4``); remote code is never run. Scores shape (n,); the
    Bradley–Terry temperature is 1, the scale such a model is trained on.

    ``reward-model:PATH[,quantize=nf4][,batch_size=N]``; PATH is a local folder or a hub id.
    """

    summary = "a sequence-classification model with one output: reward-model:PATH_OR_HUB_ID[,quantize=nf4]"
    requires = ("transformers",)
    takes_argument = True
    temperature = 1.0

    def __init__(self, argument: str | None = None):
        super().__init__(argument)
        target, *options = (argument or "").split(",")
        self.target, self.quantize, self.batch_size = target.strip(), "none", 16
        for option in options:
            key, _, value = option.partition("=")
            key, value = key.strip(), value.strip()
            if key not in OPTIONS or (OPTIONS[key] and value not in OPTIONS[key]):
                raise JudgeError(f"--judge {self.spec}: unknown option {option.strip()!r}; options: quantize=nf4 "
                                 "or none, batch_size=N")
            if key == "batch_size":
                if not value.isdigit() or int(value) < 1:
                    raise JudgeError(f"--judge {self.spec}: batch_size={value!r} must be a positive integer")
                self.batch_size = int(value)
            else:
                self.quantize = value
        self._loaded = None

    @property
    def local(self) -> bool:
        path = Path(self.target).expanduser()
        return path.exists() or self.target.startswith((".", "/", "~")) or self.target.count("/") > 1

    def _location(self) -> str:
        return str(Path(self.target).expanduser()) if self.local else self.target

    def check(self) -> None:
        from transformers import AutoConfig

        if self.local and not Path(self.target).expanduser().is_dir():
            raise JudgeError(f"--judge {self.spec}: {self.target} is not a folder (a saved model: config.json and "
                             "its weights)")
        try:
            config = AutoConfig.from_pretrained(self._location(), trust_remote_code=False)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise JudgeError(f"--judge {self.spec}: the model's config could not be read ({first})") from None
        architectures = config.architectures or []
        if not any(a.endswith("ForSequenceClassification") for a in architectures):
            kind = (f"a causal LM ({', '.join(architectures)})" if any(a.endswith(("ForCausalLM", "LMHeadModel"))
                                                                       for a in architectures)
                    else f"a model without a sequence-classification head ({', '.join(architectures) or 'none named'})")
            raise JudgeError(f"--judge {self.spec}: {self.target} is {kind}, not a reward model; give a model saved "
                             "as AutoModelForSequenceClassification with one output")
        if config.num_labels != 1:
            raise JudgeError(f"--judge {self.spec}: {self.target} has {config.num_labels} outputs (num_labels = "
                             f"{config.num_labels}); a reward model has one")

    def fingerprint(self) -> str:
        from prefzoo.algorithms.engine.models import ModelSettings, model_fingerprint

        model = model_fingerprint(ModelSettings(model=self._location(), quantize=self.quantize == "nf4"))
        return f"{self.name}:{model}"

    def _load(self):
        if self._loaded is None:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer, BitsAndBytesConfig

            from prefzoo.algorithms.engine.processes import run_device

            device = run_device()
            dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
            kwargs = {"dtype": dtype, "trust_remote_code": False, "device_map": {"": device}}
            if self.quantize == "nf4":
                kwargs["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=dtype)
            tokenizer = AutoTokenizer.from_pretrained(self._location(), trust_remote_code=False)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            tokenizer.padding_side = "right"
            model = AutoModelForSequenceClassification.from_pretrained(self._location(), **kwargs).eval()
            if model.config.pad_token_id is None:  # the last token of a padded row is found through it
                model.config.pad_token_id = tokenizer.pad_token_id
            self._loaded = model, tokenizer
        return self._loaded

    def texts(self, prompts, completions) -> list[str]:
        """Each (prompt, response) as the model reads it."""
        _, tokenizer = self._load()
        out = []
        for prompt, completion in zip(prompts, completions):
            if tokenizer.chat_template:
                messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt or ""}]
                out.append(tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": completion}],
                                                         tokenize=False))
            else:
                text = "\n".join(m["content"] for m in prompt) if isinstance(prompt, list) else (prompt or "")
                out.append(f"{text}{completion}" if not text else f"{text}\n{completion}")
        return out

    @torch.no_grad()
    def score(self, prompts, completions) -> torch.Tensor:
        model, tokenizer = self._load()
        texts = self.texts(prompts, completions)
        device = next(model.parameters()).device
        scores = []
        for start in range(0, len(texts), self.batch_size):
            batch = tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                              max_length=min(tokenizer.model_max_length, 4096), return_tensors="pt",
                              add_special_tokens=not tokenizer.chat_template)
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            scores.append(logits[:, 0].double().cpu())
        return torch.cat(scores) if scores else torch.zeros(0, dtype=torch.float64)
