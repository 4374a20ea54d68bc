"""The LM suites' common run: every algorithm trained with QLoRA on the same data (a ``DataSource``), base
model, optimiser and step budget, then evaluated the same way; and the ``preference-dataset`` suite,
which runs it on a user's file or a hub dataset.

Cells are (algorithm, seed), plus one cell for the reference policy. Each finished cell is one result
file, written atomically; a rerun skips finished cells, so a killed run loses only the cell in flight.
One base model is loaded; each cell re-initialises the single LoRA adapter from its seed, and the
reference policy is that base with the adapter disabled.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from prefzoo.algorithms.engine.checkpointing import parse_bytes
from prefzoo.algorithms.engine.processes import data_parallel_refusal, is_main
from prefzoo.algorithms.engine.runners import NEEDS_GOLD, rl_minibatch
from prefzoo.algorithms.framework.base import Algorithm, Family
from prefzoo.algorithms.framework.config import AlgorithmConfig, replace_fields
from prefzoo.algorithms.framework.unpaired import accepts_unpaired
from prefzoo.benchmarks.harness.results import project_paths, result_path
from prefzoo.benchmarks.harness.suite import Suite, SuiteOptions, at_least
from prefzoo.benchmarks.judges.base import make_judge
from prefzoo.benchmarks.suites.lm.cells import run_cells
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.figures import reward_kl_plot
from prefzoo.benchmarks.suites.lm.headline import headline
from prefzoo.benchmarks.suites.lm.setting_statistics import SettingStatistics
from prefzoo.benchmarks.suites.lm.profiles import (ENGINE_REVISION, PROFILES, REFERENCE,  # noqa: F401 (re-exported)
                                                   Profile, engine_revision)
from prefzoo.benchmarks.suites.lm.report import headline_columns, leaderboard_rows, setting_rows
from prefzoo.benchmarks.suites.lm.section import section
from prefzoo.benchmarks.suites.lm.reward_report import principle_rows, principle_switch_rows, reward_model_rows
from prefzoo.benchmarks.suites.lm.run import LMRun
from prefzoo.benchmarks.suites.lm.second_gold import rejudge
from prefzoo.benchmarks.suites.lm.sources import DataSource, PreferenceDataset
from prefzoo.registry import ALGORITHMS

RL_FROZEN = ("responses_per_iteration", "minibatch_size", "max_new_tokens")
"""RL loop settings that ``--rl`` does not take: a rollout is the training batch, its minibatch follows
``steps_per_rollout`` or the micro batch, and its responses are as long as the data's."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class LMOptions(SuiteOptions):
    """The options of every LM suite."""

    profile: str = "auto"
    """quick (CPU-sized), full, smoke, or auto (full with a GPU, else quick)."""
    model: str | None = None
    """Hub id or local path of the base model (default: the profile's)."""
    train: tuple[str, ...] = ()
    """The shared budget, FIELD=VALUE,... of the training settings (learning_rate, steps, batch_size,
    micro_batch_size, warmup_steps, weight_decay, max_grad_norm, mixed_precision)."""
    rl: tuple[str, ...] = ()
    """The RL family's loop, FIELD=VALUE,...: steps_per_rollout (optimiser steps per rollout, each on an equal
    share of its responses: the later ones off-policy), epochs (passes over each rollout)."""
    eval_prompts: int | None = at_least(1)
    """Held-out prompts every policy is sampled on (default: the profile's); more prompts buy power (see the
    power line under each ranked table). Generated data make their held-out pairs again at a new count."""
    eval_samples: int | None = at_least(1)
    """Policy samples per held-out prompt (default: the profile's)."""
    eval_at: tuple[int, ...] = ()
    """Steps after which each policy is also evaluated, e.g. 3,6 (the last step always is): its reward–KL
    path along training, with the same sampling seeds at every step."""
    strength_sweep: int | None = at_least(2)
    """Train each algorithm at N values of its strength field (β, τ, ...), evenly over its declared search
    range (a tenth to ten times its default where none is declared): the points of its frontier."""
    runs: Path | None = None
    """Folder for adapters and training logs (default: the project's runs/)."""
    max_memory: str | None = None
    """On CUDA: cap the device memory (e.g. 24GiB); gradient checkpointing "auto" turns on when a step would
    not fit."""


class _LMSuite(Suite):
    """An LM suite: cells over algorithms and seeds on one ``DataSource``; a suite with data of its own
    makes it in ``generated_source``."""

    families = (Family.PAIRWISE, Family.ONLINE, Family.REWARD, Family.RL)
    has_safety = False
    Options = LMOptions
    Document = LMResult

    def execute(self, algorithms, results_root, options, base_configs, progress, log) -> list[dict]:
        return self._run(None, algorithms, results_root, options, base_configs, progress, log)

    def _run(self, source: DataSource | None, algorithms: Sequence[type[Algorithm]], results_root: Path,
             options: LMOptions, base_configs: dict[str, AlgorithmConfig],
             progress: Callable[[int, int], None] | None, log: Callable[[str], None]) -> list[dict]:
        """Train and evaluate on ``source``, or on the suite's own data (``generated_source``) when None.
        ``--tune`` and ``--labels`` are options of the suites that declare them."""
        labels, tune = getattr(options, "labels", None), getattr(options, "tune", None)
        if labels is not None and not 0 < labels <= 1:
            raise ValueError(f"--labels {labels}: the labelled share of the pairs must be in (0, 1]")
        if not is_main():  # one process of a data-parallel run speaks
            log = lambda _: None  # noqa: E731
        if reason := data_parallel_refusal(bool(tune), options.backend.name):
            raise ValueError(reason)
        if tune and options.strength_sweep:
            raise ValueError("--strength-sweep trains every strength; --tune selects one: use one of them")
        data_options = self.data_options(options)
        for cls in algorithms:
            if labels is not None and labels < 1 and cls.family not in (Family.REWARD, Family.RL):
                raise ValueError(f"--labels sets the label budget of reward learning (reward learners and the RL "
                                 f"family's reward model); {cls.name!r} is {cls.family}: run it without --labels")
            if tune and not cls.trains_policy:
                raise ValueError(f"--tune selects a policy by its validation gold reward; {cls.name!r} trains a "
                                 "reward model: run it without --tune")
            if cls.family not in self.families:
                raise ValueError(f"the {self.name} suite does not train {cls.family} algorithms ({cls.name!r})")
            if reason := self.cannot_train(cls, labels=1.0 if labels is None else labels, **data_options):
                raise ValueError(f"the {self.name} suite cannot train {cls.name!r}: {reason}")
            if source is not None and source.unpaired and not accepts_unpaired(cls):
                takers = [n for n, c in ALGORITHMS.load_all().items() if accepts_unpaired(c)]
                raise ValueError(f"{cls.name!r} needs preference pairs (prompt, chosen, rejected); {source.name} holds "
                                 f"unpaired rows (prompt, completion, label), which {', '.join(sorted(takers))} "
                                 "train on")
            if cls.family in NEEDS_GOLD and source is not None and not source.has_gold:
                raise ValueError(f"{cls.name!r}: {NEEDS_GOLD[cls.family]}; {source.name} has none. Give the run a "
                                 "judge as its gold, e.g. --judge textblob (a sentiment lexicon) or --judge "
                                 "reward-model:./my-reward-model (prefzoo list --judges lists them)")
        # a suite with a gold of its own takes --judge as a second gold, checked before anything trains
        second = make_judge(options.judge) if source is None and getattr(options, "judge", None) else None
        profile, prof = self.profile(options)
        if source is None:
            source = self.generated_source(prof.data, options)
        seed_list = list(range(options.seed, options.seed + (options.seeds or prof.seeds)))
        run = LMRun(prof, profile, Path(results_root), log, source, seed_list,
                    Path(options.runs or project_paths()["runs"]),
                    parse_bytes(options.max_memory) if options.max_memory else None)
        docs = run_cells(run, algorithms, seed_list, base_configs, tune, options.backend, progress,
                         options.strength_sweep)
        if second is None or not is_main():
            return docs
        paths = [result_path(Path(results_root), source.suite, d["algorithm"], d["seed"], d["hash"]) for d in docs]
        rejudge(paths, second, lambda: run.load() or run.eval_prompts, log)
        return [json.loads(p.read_text()) for p in paths]

    def profile(self, options: LMOptions) -> tuple[str, Profile]:
        """The profile's name and the ``Profile`` a run of ``options`` trains and evaluates under: the named
        profile with the run's budget, evaluation, model and label-budget options applied."""
        labels = getattr(options, "labels", None)
        profile = options.profile
        if profile == "auto":  # the CPU-sized profile without a GPU
            profile = "full" if torch.cuda.is_available() else "quick"
        if profile not in PROFILES:
            raise ValueError(f"{self.name}: unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
        prof = PROFILES[profile]
        if options.train:  # the seed is per cell, not a budget setting
            prof = dataclasses.replace(prof, train=replace_fields(prof.train, options.train, "--train",
                                                                  frozen=("seed",)))
        if options.steps:
            prof = dataclasses.replace(prof, train=dataclasses.replace(prof.train, steps=options.steps))
        if options.rl:  # the rollout's size is the training batch's: every family reads the same budget
            prof = dataclasses.replace(prof, rl=replace_fields(prof.rl, options.rl, "--rl", frozen=RL_FROZEN))
        rl_minibatch(prof.rl, prof.train)  # a split that does not divide the rollout fails before any cell
        # the profile's own checkpoints past a shortened budget go; an --eval-at beyond it is refused below
        prof = dataclasses.replace(prof, eval_at=tuple(s for s in prof.eval_at if s < prof.train.steps))
        if options.eval_prompts:
            prof = dataclasses.replace(prof, data=dataclasses.replace(prof.data, eval_prompts=options.eval_prompts))
        if options.eval_samples:
            prof = dataclasses.replace(prof, samples_per_prompt=options.eval_samples)
        if options.eval_at:
            beyond = [s for s in options.eval_at if not 1 <= s <= prof.train.steps]
            if beyond:
                raise ValueError(f"--eval-at {','.join(map(str, beyond))}: the budget has steps 1 to {prof.train.steps}")
            steps = tuple(sorted(set(options.eval_at) - {prof.train.steps}))  # the last one is evaluated anyway
            prof = dataclasses.replace(prof, eval_at=steps)
        if options.model:
            prof = dataclasses.replace(prof, model=dataclasses.replace(prof.model, model=options.model))
        if labels is not None:
            prof = dataclasses.replace(prof, reward_labels=labels)
        return profile, prof

    def cannot_train(self, cls: type[Algorithm], labels: float = 1.0, **data_options: Any) -> str | None:
        """Why this suite's data, under the run's data options (``data_options``, e.g. smol-two-factor's
        ``preference``) and label budget, cannot train ``cls``, or None: a family run skips it, a named one
        is refused, the leaderboard does not call it missing."""
        if getattr(cls, "uses_unlabelled", False) and labels >= 1:
            return ("it labels the pairs whose labels it does not see, and with every label seen there are none: "
                    "run it with --labels below 1")
        if getattr(cls, "uses_safety_labels", False) and not self.has_safety:
            return "it trains on safety labels, which the smol-two-factor suite has"
        if getattr(cls, "uses_principles", False):
            return "it trains on pairs labelled under principles, which the smol-two-factor suite declares"
        return None

    def options_of(self, doc: LMResult) -> dict[str, Any]:
        """The ``cannot_train`` options a result document was run under."""
        return {"labels": doc.reward_labels, **doc.data_options}

    def generated_source(self, data, options: LMOptions) -> DataSource:
        """The suite's own data under its profile's ``data`` settings and the run's ``options``."""
        raise NotImplementedError(f"the {self.name} suite has no data of its own: give it a dataset")

    def tables(self, docs: Sequence[LMResult]) -> list[tuple[str, list[str], list[list[str]]]]:
        """(title, headers, rows): a ranked table and a reward-model table per setting."""
        return self._tables(docs, leaderboard_rows)

    def terminal_tables(self, docs: Sequence[LMResult]) -> list[tuple[str, list[str], list[list[str]]]]:
        """``tables`` with each ranked table cut to its headline columns."""
        return self._tables(docs, lambda group: headline_columns(*leaderboard_rows(group)))

    def _tables(self, docs, ranked: Callable) -> list[tuple[str, list[str], list[list[str]]]]:
        out = []
        for title, group in setting_rows(docs):
            out += [(title, *ranked(group)), (f"{title} · reward models", *reward_model_rows(group)),
                    (f"{title} · reward model asked about each principle", *principle_rows(group)),
                    (f"{title} · principle switch", *principle_switch_rows(group))]
        return [t for t in out if t[2]]

    def plot(self, docs: Sequence[LMResult], path: Path) -> Path:
        """Gold reward against log π/π_ref of the first setting's rows."""
        return reward_kl_plot(setting_rows(docs)[0][1], path)

    def section(self, docs: Sequence[LMResult], out_dir: Path) -> str:
        return section(docs, out_dir, self, self.statistics)

    def headline(self, docs: Sequence[LMResult]) -> str | None:
        return headline(docs, self, self.statistics)

    @functools.cached_property
    def statistics(self) -> SettingStatistics:
        """The bootstraps of each setting, shared by the headline and the section of one render."""
        return SettingStatistics()


@dataclasses.dataclass(frozen=True, kw_only=True)
class PreferenceDatasetOptions(LMOptions):
    dataset: str
    """A TRL-format file (.json/.jsonl/.parquet/.csv) or hub id."""
    columns: str | None = None
    """Map your file's columns, e.g. prompt=question,chosen=good,rejected=bad."""
    judge: str | None = None
    """NAME[:ARG], the gold that scores what the policies generate (prefzoo list --judges), e.g. textblob or
    reward-model:./my-rm: the online and RL families train, and rows are ranked by the judge."""


class PreferenceDatasetSuite(_LMSuite):
    """Any preference dataset in TRL's format. With ``--judge``, the judge is the gold: every family
    trains and rows are ranked by it; without one, the pairwise family alone, ranked by held-out pair
    accuracy."""

    name = PreferenceDataset.suite
    order = 30
    Options = PreferenceDatasetOptions

    def execute(self, algorithms, results_root, options, base_configs, progress, log) -> list[dict]:
        from prefzoo.benchmarks.suites.lm.user_files import parse_columns

        if options.eval_prompts:
            raise ValueError("--eval-prompts: a dataset's held-out prompts are those of its held-out pairs (its test "
                             "split, or a tenth of its rows); drop the flag")
        # the judge checked, the file read and validated, before the model loads
        judge = make_judge(options.judge) if options.judge else None
        source = PreferenceDataset(options.dataset, columns=parse_columns(options.columns), judge=judge)
        return self._run(source, algorithms, results_root, options, base_configs, progress, log)
