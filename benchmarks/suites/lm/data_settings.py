"""The prompt and sampler settings of an LM suite's profile (``Profile.data``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DataSettings:
    """An LM suite's prompts and sampler: how many train and held-out prompts, how long a response, and
    the sampler that draws every sample of the suite (a generated source's pairs and every evaluation).
    Part of every result's hash (through the profile) and of a generated source's data key; the label
    and length fields are read by generated sources only."""

    train_prompts: int = 300
    eval_prompts: int = 64
    max_new_tokens: int = 24
    samples_per_prompt: int = 4
    """Reference samples per prompt; its pair is the best and the worst of them by gold reward."""
    temperature: float = 0.7
    """The sampler's temperature, for the pairs and for every evaluation sample of the suite."""
    top_p: float = 0.9
    """The sampler's nucleus: 1.0 keeps the whole vocabulary."""
    top_k: int = 0
    """The sampler's top-k: 0 keeps the whole vocabulary."""
    label_temperature: float = 0.1
    """T of the Bradley–Terry labels: P(y₁ ≻ y₂) = σ((r₁ − r₂)/T)."""
    length_weight: float = 0.0
    """λ of the optional length term: gold = compound − λ·(words / 10)."""
    seed: int = 0
    generation_batch_size: int = 64

    def to_dict(self) -> dict:
        return asdict(self)

    def sampler(self) -> dict:
        """The sampler as ``sample_responses`` keywords."""
        return {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k}
