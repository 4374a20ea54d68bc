"""smol-sentiment as an LM data source: its generated pairs (this machine's cache, else the shipped
copy, else sampled now), VADER as the gold reward, and validation prompts from the same template pool."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import torch

from prefzoo.algorithms.engine.models import cache_dir
from prefzoo.benchmarks.suites.lm.data_settings import DataSettings
from prefzoo.benchmarks.suites.lm.sources import DataSource, PreferenceData
from prefzoo.benchmarks.suites.smol_sentiment.data import (SUITE, build_pairs, data_key, gold_reward, relabelled_train,
                                                           validation_prompts)

SHIPPED_DATA = Path(__file__).parent / "shipped"


class GeneratedSentiment(DataSource):
    """smol-sentiment: pairs sampled from the reference model, gold reward = VADER sentiment.

    Pairs are read from the cache when this machine generated them, else from the copy shipped in
    ``shipped/`` for the same data key (same model file and settings: the quick profile's pairs
    ship, so every machine trains on identical pairs and no run pays the sampling twice), else sampled
    now. ``regenerate=True`` ignores the shipped copy. The key says which origin a result used.

    ``labeller_temperature``: the train pairs' labels drawn again at this temperature instead of the data's
    own (``data.relabelled_train``: the same pairs and draws, only the labeller differs); the
    key then ends in ``+labeller-T<value>``.
    """

    suite = SUITE
    name = SUITE
    has_gold = True
    has_safety = False
    unpaired = False

    def __init__(self, settings: DataSettings, regenerate: bool = False, labeller_temperature: float | None = None):
        if labeller_temperature is not None and not labeller_temperature > 0:
            raise ValueError(f"--labeller-temperature {labeller_temperature}: a Bradley–Terry labeller's temperature "
                             "must be > 0")
        self.settings, self.regenerate = settings, regenerate
        self.relabel_at = None if labeller_temperature in (None, settings.label_temperature) else labeller_temperature

    @property
    def label_temperature(self) -> float:
        """The temperature of the labeller whose labels order the train pairs (and that labels online samples)."""
        return self.relabel_at or self.settings.label_temperature

    def _files(self, base_key: str) -> tuple[Path, Path]:
        return (cache_dir() / "data" / f"{SUITE}-{base_key}.json",
                SHIPPED_DATA / f"{SUITE}-{base_key}.json.gz")

    def key(self, model_fingerprint: str) -> str:
        base = data_key(model_fingerprint, self.settings)
        generated, shipped = self._files(base)
        origin = "+shipped" if not generated.exists() and shipped.exists() and not self.regenerate else ""
        return base + origin + (f"+labeller-T{self.relabel_at:g}" if self.relabel_at else "")

    def load(self, model, tokenizer, key: str) -> PreferenceData:
        base, *parts = key.split("+")
        generated, shipped = self._files(base)
        if "shipped" in parts:
            data = json.loads(gzip.decompress(shipped.read_bytes()))
        else:
            data = build_pairs(model, tokenizer, self.settings, generated)
        train = relabelled_train(data, self.relabel_at, self.settings.seed) if self.relabel_at else data["train"]
        return PreferenceData(train, data["eval"], data["eval_prompts"], self._ood(model, tokenizer, base))

    def _ood(self, model, tokenizer, base_key: str) -> list[dict]:
        """The out-of-distribution pairs: this machine's, else the shipped copy (unless regenerating), else
        sampled now."""
        from prefzoo.benchmarks.suites.smol_sentiment.ood import build_ood_pairs, ood_file_name

        generated, shipped = self._files(ood_file_name(base_key))
        if not generated.exists() and shipped.exists() and not self.regenerate:
            return json.loads(gzip.decompress(shipped.read_bytes()))["pairs"]
        return build_ood_pairs(model, tokenizer, self.settings, generated)

    def gold(self, prompts: list, texts: list[str]) -> torch.Tensor:
        return gold_reward(texts, self.settings.length_weight)

    def validation_prompts(self, data: DataSettings, n: int) -> list:
        return validation_prompts(data, n)
