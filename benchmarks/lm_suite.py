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
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from prefzoo import __version__
from prefzoo.algorithms.base import Algorithm, Family
from prefzoo.algorithms.config import AlgorithmConfig, replace_fields
from prefzoo.algorithms.engine.data import TokenizationSettings, tokenize_pairs
from prefzoo.algorithms.engine.unpaired_data import tokenize_unpaired
from prefzoo.algorithms.unpaired import accepts_unpaired
from prefzoo.registry import ALGORITHMS
from prefzoo.algorithms.engine.models import ModelSettings, add_adapter, cache_dir, load_base, load_tokenizer, model_fingerprint
from prefzoo.algorithms.engine.online import OnlineSettings
from prefzoo.algorithms.engine.pairwise import TrainSettings, make_accelerator, visit_order
from prefzoo.algorithms.engine.rl import RLSettings
from prefzoo.algorithms.engine.runners import NEEDS_GOLD, RunContext, run_family
from prefzoo.algorithms.engine.reference import cache_key, cached_reference_logps, with_reference
from prefzoo.benchmarks.results import project_paths, result_path, run_hash, write_json_atomic
from prefzoo.benchmarks.data_sources import GeneratedSentiment, PreferenceDataset
from prefzoo.benchmarks.smol_sentiment import SUITE, DataSettings

REFERENCE = "reference"
ENGINE_REVISION = 2
"""Part of every LM result's hash; raised when the engine's arithmetic changes, so a rerun recomputes
every cell instead of reusing one it would no longer reproduce. 2: nf4 layers are never repacked for
CPU inference (``keep_4bit_differentiable``); results of revision 1 trained through the repacked
layers on CPUs with AVX-512 BF16."""


@dataclass(frozen=True)
class Profile:
    """Everything a run's numbers depend on besides the algorithm's config."""

    data: DataSettings
    train: TrainSettings
    model: ModelSettings = ModelSettings()
    tokenization: TokenizationSettings = TokenizationSettings(max_prompt_length=96, max_completion_length=24)
    samples_per_prompt: int = 1
    """K: policy samples per held-out prompt."""
    eval_batch_size: int = 64
    online: OnlineSettings = OnlineSettings()
    """How the online family spends the same step budget (max_new_tokens: the data's)."""
    reward_epochs: int = 3
    """Epochs of a reward learner over the pairs the step budget reads (IDS updates labels per epoch)."""
    rl: RLSettings = RLSettings()
    """How the RL family spends the same step budget (max_new_tokens: the data's)."""
    seeds: int = 3
    """Seeds per algorithm (and reference cells) unless ``--seeds`` says otherwise; not part of the hash."""

    def to_dict(self) -> dict:
        return {"data": self.data.to_dict(), "train": self.train.to_dict(), "model": self.model.to_dict(),
                "tokenization": self.tokenization.to_dict(), "samples_per_prompt": self.samples_per_prompt,
                "online": self.online.to_dict(), "reward_epochs": self.reward_epochs, "rl": self.rl.to_dict()}


PROFILES = {
    # The CPU profile of the committed leaderboard. Its budget, lr 1e-4 × 12 steps of 8 pairs, is the
    # smallest point of the shared-budget sweep (`python -m prefzoo.benchmarks.budget_sweep`, README) at
    # which DPO beats the reference with the paired test, chosen for every algorithm alike. Measured on 2
    # CPU cores with SmolLM2-135M nf4: a step on 8 pairs ≈ 7 s; evaluating a policy ≈ 60 s; the data
    # (1,856 samples) ≈ 16 min, so its pairs ship.
    "quick": Profile(data=DataSettings(train_prompts=400, eval_prompts=64, max_new_tokens=24),
                     train=TrainSettings(steps=12, batch_size=8, micro_batch_size=8, learning_rate=1e-4)),
    "full": Profile(data=DataSettings(train_prompts=900, eval_prompts=256, max_new_tokens=48),
                    train=TrainSettings(steps=300, batch_size=32, micro_batch_size=16, learning_rate=5e-4,
                                        warmup_steps=10, mixed_precision="no"),
                    tokenization=TokenizationSettings(max_prompt_length=96, max_completion_length=48),
                    samples_per_prompt=4, eval_batch_size=128,
                    online=OnlineSettings(prompts_per_round=32, max_new_tokens=48, generation_batch_size=128)),
}
# `make bench` on a CPU: the quick profile's data and learning rate, 4 steps and one seed. A check that
# every cell runs end to end, labelled a smoke run on the leaderboard: not evidence.
PROFILES["smoke"] = dataclasses.replace(PROFILES["quick"], seeds=1,
                                        train=dataclasses.replace(PROFILES["quick"].train, steps=4))


class _LMSuite:
    """An LM suite: cells over algorithms and seeds on one data source (see ``data_sources``)."""

    families = (Family.PAIRWISE, Family.ONLINE, Family.REWARD, Family.RL)

    def _run(self, source, algorithms: Sequence[type[Algorithm]], results_root: Path, seeds: int | None,
             steps: int | None, profile: str, model: str | None, base_configs: dict[str, AlgorithmConfig] | None,
             progress: Callable[[int, int], None] | None, log: Callable[[str], None],
             regenerate_data: bool = False, train: Sequence[str] = (), runs: Path | None = None,
             seed: int = 0) -> list[dict]:
        for cls in algorithms:
            if cls.family not in self.families:
                raise ValueError(f"the {self.name} suite does not train {cls.family} algorithms ({cls.name!r})")
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
        if source is None:
            source = GeneratedSentiment(prof.data, regenerate=regenerate_data)
        seed_list = list(range(seed, seed + (seeds or prof.seeds)))
        run = _Run(prof, profile, Path(results_root), log, source, seed_list, Path(runs or project_paths()["runs"]))
        cells = [(REFERENCE, None, s) for s in seed_list] + [(cls.name, cls, s) for cls in algorithms for s in seed_list]
        docs = []
        for i, (name, cls, seed) in enumerate(cells):
            config = (base_configs or {}).get(name) or (cls.Config() if cls else None)
            docs.append(run.cell(name, cls, config, seed))
            if progress is not None:
                progress(i + 1, len(cells))
        return docs

    def tables(self, docs: Sequence[dict[str, Any]]) -> list[tuple[str, list[str], list[list[str]]]]:
        """(title, headers, rows): a ranked table and a reward-model table per setting."""
        from prefzoo.benchmarks.lm_report import leaderboard_rows, reward_model_rows, setting_rows

        out = []
        for title, group in setting_rows(docs):
            out += [(title, *leaderboard_rows(group)), (f"{title} · reward models", *reward_model_rows(group))]
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
            train: Sequence[str] = (), runs: Path | None = None, seed: int = 0,
            progress: Callable[[int, int], None] | None = None, log: Callable[[str], None] = print) -> list[dict]:
        return self._run(None, algorithms, results_root, seeds, steps, profile, model, base_configs, progress, log,
                         regenerate_data, train, runs, seed)


class PreferenceDatasetSuite(_LMSuite):
    """Any preference dataset in TRL's format; without a gold reward, ranked by held-out pair accuracy."""

    name = PreferenceDataset.suite

    def run(self, algorithms: Sequence[type[Algorithm]], results_root: Path, *, dataset: str,
            seeds: int | None = None, steps: int | None = None, profile: str = "auto", model: str | None = None,
            base_configs: dict[str, AlgorithmConfig] | None = None, train: Sequence[str] = (),
            runs: Path | None = None, columns: str | None = None, seed: int = 0,
            progress: Callable[[int, int], None] | None = None, log: Callable[[str], None] = print) -> list[dict]:
        from prefzoo.benchmarks.user_files import parse_columns

        source = PreferenceDataset(dataset, columns=parse_columns(columns))  # read and validated before the model
        return self._run(source, algorithms, results_root, seeds, steps, profile, model,
                         base_configs, progress, log, train=train, runs=runs, seed=seed)


class _Run:
    """The shared state of one benchmark run: model, tokenizer, data, reference numbers."""

    def __init__(self, profile: Profile, profile_name: str, results_root: Path, log: Callable[[str], None], source,
                 seeds: Sequence[int] = (0,), runs_root: Path = Path("runs")):
        self.profile, self.profile_name, self.results_root, self.log = profile, profile_name, results_root, log
        self.source, self.seeds, self.runs_root = source, seeds, runs_root
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self._loaded = False
        self.data_key = source.key(model_fingerprint(profile.model))
        self.settings_hash_input = {"profile": profile.to_dict(), "data_key": self.data_key,
                                    "engine_revision": ENGINE_REVISION}

    def _load(self) -> None:
        """Model, data and reference log-probs: loaded on the first cell that is not already done."""
        if self._loaded:
            return
        p = self.profile
        start = time.perf_counter()
        self.tokenizer = load_tokenizer(p.model)
        self.model = add_adapter(load_base(p.model, self.device), p.model)
        self.log(f"model {p.model.model} loaded in {time.perf_counter() - start:.1f} s "
                 f"({'nf4 QLoRA' if p.model.quantize else 'LoRA'} on {self.device})")
        start = time.perf_counter()
        data = self.source.load(self.model, self.tokenizer, self.data_key)
        self.log(f"data: {len(data.train)} train {'rows' if self.source.unpaired else 'pairs'}, "
                 f"{len(data.eval)} held-out pairs "
                 f"({time.perf_counter() - start:.1f} s)")
        self.eval_prompts = data.eval_prompts
        self.train_prompts = [row["prompt"] for row in data.train]
        self.eval_gold = ([(row["gold_chosen"], row["gold_rejected"]) for row in data.eval]
                          if self.source.has_gold else None)
        fp = model_fingerprint(p.model)
        tokenize_train = tokenize_unpaired if self.source.unpaired else tokenize_pairs
        train = tokenize_train(data.train, self.tokenizer, p.tokenization, f"{self.source.name} train")
        held_out = tokenize_pairs(data.eval, self.tokenizer, p.tokenization, f"{self.source.name} held-out")
        self.accelerator = make_accelerator(p.train, logging_dir=self.runs_root / self.source.suite / "logs")
        read = set().union(*(visit_order(len(train), dataclasses.replace(p.train, seed=s),
                                         self.accelerator.num_processes) for s in self.seeds))
        self.train_data = self._with_ref(train, fp, "train", read)
        self.eval_data = self._with_ref(held_out, fp, "held-out", None)
        self._loaded = True

    def _with_ref(self, dataset, fingerprint: str, split: str, rows):
        key = cache_key(fingerprint, dataset, self.profile.tokenization.to_dict())
        start = time.perf_counter()
        logps, computed = cached_reference_logps(self.model, dataset, self.tokenizer.pad_token_id, key, cache_dir(),
                                                 rows=rows)
        wanted = len(rows) if rows is not None else len(dataset)
        self.log(f"reference log-probs of the {wanted} {split} rows read: {computed} computed, "
                 f"{wanted - computed} from the cache ({time.perf_counter() - start:.1f} s)")
        return with_reference(dataset, logps)

    def cell(self, name: str, cls: type[Algorithm] | None, config: AlgorithmConfig | None, seed: int) -> dict:
        digest = run_hash(config.to_dict() if config else {}, self.settings_hash_input)
        path = result_path(self.results_root, self.source.suite, name, seed, digest)
        if path.exists():
            self.log(f"{name} seed {seed}: done already ({path.name})")
            return json.loads(path.read_text())
        self._load()
        from prefzoo.benchmarks.lm_eval import evaluate_policy

        p = self.profile
        doc: dict[str, Any] = {
            "suite": self.source.suite, "dataset": self.source.name, "has_gold": self.source.has_gold,
            "algorithm": name, "seed": seed, "hash": digest, "profile": self.profile_name,
            "settings": p.to_dict(), "data_key": self.data_key, "prefzoo_version": __version__,
            "engine_revision": ENGINE_REVISION,
            "config": config.to_dict() if config else {},
            "family": str(cls.family) if cls else "reference",
            "paper": cls.paper if cls else "", "origin": ALGORITHMS.origin(name) if cls else "",
        }
        if cls is None:
            doc["train"] = None
            doc["eval"] = evaluate_policy(self, None, seed)
        else:
            algorithm = cls(config)
            if algorithm.trains_policy:
                _reset_adapter(self.model, seed)
            out_dir = self.runs_root / self.source.suite / name / f"seed{seed}-{digest}"
            result = run_family(algorithm, self._context(name, seed, out_dir))
            doc.update(result.document())
            self.log(f"{name} seed {seed}: trained in {result.train.wall_time_s:.1f} s, "
                     f"final loss {result.train.history[-1]['loss']:.4f}")
            if algorithm.trains_policy:
                self.model.save_pretrained(out_dir)
                doc["adapter"] = str(out_dir)
                if algorithm.state_dict():
                    write_json_atomic(out_dir / "algorithm_state.json", algorithm.state_dict())
                doc["eval"] = evaluate_policy(self, algorithm, seed)
            else:
                doc["eval"] = result.evaluation
        write_json_atomic(path, doc)
        return doc

    def _context(self, name: str, seed: int, out_dir: Path) -> RunContext:
        p = self.profile
        return RunContext(
            model=self.model, tokenizer=self.tokenizer, model_settings=p.model,
            train=dataclasses.replace(p.train, seed=seed), accelerator=self.accelerator, train_data=self.train_data,
            train_prompts=self.train_prompts, eval_data=self.eval_data, out_dir=out_dir, run_name=name,
            gold=self.source.gold if self.source.has_gold else None,
            eval_gold=torch.tensor(self.eval_gold, dtype=torch.float64) if self.eval_gold else None,
            label_temperature=p.data.label_temperature,
            online=dataclasses.replace(p.online, max_new_tokens=p.data.max_new_tokens),
            rl=dataclasses.replace(p.rl, max_new_tokens=p.data.max_new_tokens), reward_epochs=p.reward_epochs, log=self.log)

    def reference_samples(self, seed: int) -> dict:
        """The samples of the reference cell of ``seed`` (its result file), which the win rates of that
        seed compare against."""
        digest = run_hash({}, self.settings_hash_input)
        path = result_path(self.results_root, self.source.suite, REFERENCE, seed, digest)
        if not path.exists():
            raise RuntimeError(f"the reference cell of seed {seed} must run before the algorithms ({path})")
        return json.loads(path.read_text())["eval"]["samples"]


def _reset_adapter(model, seed: int) -> None:
    """Put the policy's LoRA adapter back to its initialisation (A random from ``seed``, B = 0): π = π_ref again."""
    from peft.tuners.lora import LoraLayer

    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, LoraLayer) and model.active_adapter in module.lora_A:
            module.reset_lora_parameters(model.active_adapter, init_lora_weights=True)
