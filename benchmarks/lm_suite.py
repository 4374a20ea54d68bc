"""The LM benchmarks: every pairwise algorithm trained with QLoRA on the same preference data (generated
with a gold reward, or a TRL-format dataset), base model, optimiser and step budget, then evaluated the
same way.

Cells are (algorithm, seed), plus one cell for the reference policy. Each finished cell is one result
file, written atomically; a rerun skips finished cells, so a killed run loses only the cell in flight.
One base model is loaded; each cell re-initialises the single LoRA adapter from its seed, and the
reference policy is that base with the adapter disabled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from prefzoo.algorithms.base import Algorithm, Family
from prefzoo.algorithms.config import AlgorithmConfig, replace_fields
from prefzoo.algorithms.engine.checkpointing import parse_bytes
from prefzoo.algorithms.engine.processes import data_parallel_refusal, is_main
from prefzoo.algorithms.engine.runners import NEEDS_GOLD
from prefzoo.algorithms.unpaired import accepts_unpaired
from prefzoo.benchmarks.backends import SERIAL, Backend
from prefzoo.benchmarks.data_sources import GeneratedSentiment, PreferenceDataset
from prefzoo.benchmarks.lm_cells import run_cells
from prefzoo.benchmarks.lm_profiles import (ENGINE_REVISION, PROFILES, REFERENCE, Profile,  # noqa: F401 (re-exported)
                                            engine_revision)
from prefzoo.benchmarks.lm_run import LMRun
from prefzoo.benchmarks.results import project_paths
from prefzoo.benchmarks.smol_sentiment import SUITE
from prefzoo.registry import ALGORITHMS


class _LMSuite:
    """An LM suite: cells over algorithms and seeds on one data source (see ``data_sources``)."""

    families = (Family.PAIRWISE, Family.ONLINE, Family.REWARD, Family.RL)
    has_safety = False

    def _run(self, source, algorithms: Sequence[type[Algorithm]], results_root: Path, seeds: int | None,
             steps: int | None, profile: str, model: str | None, base_configs: dict[str, AlgorithmConfig] | None,
             progress: Callable[[int, int], None] | None, log: Callable[[str], None],
             regenerate_data: bool = False, train: Sequence[str] = (), runs: Path | None = None,
             seed: int = 0, tune: int | None = None, max_memory: str | None = None,
             backend: Backend = SERIAL, labels: float | None = None,
             options: dict[str, Any] | None = None) -> list[dict]:
        """``options``: the suite's own ``run`` keywords that decide what its data are (see ``cannot_train``)."""
        options = options or {}
        if labels is not None and not 0 < labels <= 1:
            raise ValueError(f"--labels {labels}: the labelled share of the pairs must be in (0, 1]")
        if not is_main():  # one process of a data-parallel run speaks
            log = lambda _: None  # noqa: E731
        if reason := data_parallel_refusal(bool(tune), backend.name):
            raise ValueError(reason)
        for cls in algorithms:
            if labels is not None and labels < 1 and cls.family not in (Family.REWARD, Family.RL):
                raise ValueError(f"--labels sets the label budget of reward learning (reward learners and the RL "
                                 f"family's reward model); {cls.name!r} is {cls.family}: run it without --labels")
            if tune and not cls.trains_policy:
                raise ValueError(f"--tune selects a policy by its validation gold reward; {cls.name!r} trains a "
                                 "reward model: run it without --tune")
            if cls.family not in self.families:
                raise ValueError(f"the {self.name} suite does not train {cls.family} algorithms ({cls.name!r})")
            if reason := self.cannot_train(cls, labels=1.0 if labels is None else labels, **options):
                raise ValueError(f"the {self.name} suite cannot train {cls.name!r}: {reason}")
            if source is not None and source.unpaired and not accepts_unpaired(cls):
                takers = [n for n, c in ALGORITHMS.load_all().items() if accepts_unpaired(c)]
                raise ValueError(f"{cls.name!r} needs preference pairs (prompt, chosen, rejected); {source.name} holds "
                                 f"unpaired rows (prompt, completion, label), which {', '.join(sorted(takers))} "
                                 "train on")
            if cls.family in NEEDS_GOLD and source is not None and not source.has_gold:
                raise ValueError(f"{cls.name!r}: {NEEDS_GOLD[cls.family]}; {source.name} has none "
                                 "(the smol-sentiment suite has one)")
        if profile == "auto":  # the CPU-sized profile without a GPU
            profile = "full" if torch.cuda.is_available() else "quick"
        if profile not in PROFILES:
            raise ValueError(f"{self.name}: unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
        prof = PROFILES[profile]
        if train:  # the seed is per cell, not a budget setting
            prof = dataclasses.replace(prof, train=replace_fields(prof.train, train, "--train", frozen=("seed",)))
        if steps:
            prof = dataclasses.replace(prof, train=dataclasses.replace(prof.train, steps=steps))
        if model:
            prof = dataclasses.replace(prof, model=dataclasses.replace(prof.model, model=model))
        if labels is not None:
            prof = dataclasses.replace(prof, reward_labels=labels)
        if source is None:
            source = self.generated_source(prof.data, regenerate_data, **options)
        seed_list = list(range(seed, seed + (seeds or prof.seeds)))
        run = LMRun(prof, profile, Path(results_root), log, source, seed_list, Path(runs or project_paths()["runs"]),
                   parse_bytes(max_memory) if max_memory else None)
        return run_cells(run, algorithms, seed_list, base_configs or {}, tune, backend, progress)

    def cannot_train(self, cls: type[Algorithm], labels: float = 1.0, **options: Any) -> str | None:
        """Why this suite's data, under the run's ``options`` (the suite's ``run`` keywords that decide
        what its data are, e.g. smol-two-factor's ``preference``) and label budget, cannot train ``cls``,
        or None: a family run skips it, a named one is refused, the leaderboard does not call it missing."""
        if getattr(cls, "uses_unlabelled", False) and labels >= 1:
            return ("it labels the pairs whose labels it does not see, and with every label seen there are none: "
                    "run it with --labels below 1")
        if getattr(cls, "uses_safety_labels", False) and not self.has_safety:
            return "it trains on safety labels, which the smol-two-factor suite has"
        if getattr(cls, "uses_principles", False):
            return "it trains on pairs labelled under principles, which the smol-two-factor suite declares"
        return None

    def options_of(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The ``cannot_train`` options a result document was run under."""
        return {"labels": doc.get("settings", {}).get("reward_labels", 1.0)}

    def generated_source(self, data, regenerate: bool, labeller_temperature: float | None = None, **options: Any):
        """The suite's own generated data, when no dataset is given."""
        return GeneratedSentiment(data, regenerate=regenerate, labeller_temperature=labeller_temperature)

    def tables(self, docs: Sequence[dict[str, Any]]) -> list[tuple[str, list[str], list[list[str]]]]:
        """(title, headers, rows): a ranked table and a reward-model table per setting."""
        from prefzoo.benchmarks.lm_report import leaderboard_rows, setting_rows
        from prefzoo.benchmarks.reward_report import principle_rows, principle_switch_rows, reward_model_rows

        out = []
        for title, group in setting_rows(docs):
            out += [(title, *leaderboard_rows(group)), (f"{title} · reward models", *reward_model_rows(group)),
                    (f"{title} · reward model asked about each principle", *principle_rows(group)),
                    (f"{title} · principle switch", *principle_switch_rows(group))]
        return [t for t in out if t[2]]

    def plot(self, docs: Sequence[dict[str, Any]], path: Path) -> Path:
        """Gold reward against log π/π_ref of the first setting's rows."""
        from prefzoo.benchmarks.lm_report import reward_kl_plot, setting_rows

        return reward_kl_plot(setting_rows(docs)[0][1], path)

    def section(self, docs: Sequence[dict[str, Any]], out_dir: Path) -> str:
        from prefzoo.benchmarks.lm_report import section

        return section(docs, out_dir)


class SmolSentimentSuite(_LMSuite):
    """QLoRA on SmolLM2-135M-Instruct (or any causal LM); pairs from the reference, gold reward = VADER."""

    name = SUITE

    def run(self, algorithms: Sequence[type[Algorithm]], results_root: Path, *, seeds: int | None = None,
            steps: int | None = None, profile: str = "auto", model: str | None = None,
            base_configs: dict[str, AlgorithmConfig] | None = None, regenerate_data: bool = False,
            train: Sequence[str] = (), runs: Path | None = None, seed: int = 0, tune: int | None = None,
            max_memory: str | None = None, backend: Backend = SERIAL, labels: float | None = None,
            labeller_temperature: float | None = None,
            progress: Callable[[int, int], None] | None = None, log: Callable[[str], None] = print) -> list[dict]:
        return self._run(None, algorithms, results_root, seeds, steps, profile, model, base_configs, progress, log,
                         regenerate_data, train, runs, seed, tune, max_memory, backend, labels,
                         options={"labeller_temperature": labeller_temperature})


class PreferenceDatasetSuite(_LMSuite):
    """Any preference dataset in TRL's format; without a gold reward, ranked by held-out pair accuracy."""

    name = PreferenceDataset.suite

    def run(self, algorithms: Sequence[type[Algorithm]], results_root: Path, *, dataset: str,
            seeds: int | None = None, steps: int | None = None, profile: str = "auto", model: str | None = None,
            base_configs: dict[str, AlgorithmConfig] | None = None, train: Sequence[str] = (),
            runs: Path | None = None, columns: str | None = None, seed: int = 0, max_memory: str | None = None,
            backend: Backend = SERIAL, progress: Callable[[int, int], None] | None = None,
            log: Callable[[str], None] = print) -> list[dict]:
        from prefzoo.benchmarks.user_files import parse_columns

        source = PreferenceDataset(dataset, columns=parse_columns(columns))  # read and validated before the model
        return self._run(source, algorithms, results_root, seeds, steps, profile, model, base_configs, progress, log,
                         train=train, runs=runs, seed=seed, max_memory=max_memory, backend=backend)
