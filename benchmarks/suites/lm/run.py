"""One LM benchmark run's shared state: the base model loaded once, the tokenised data with their
cached reference log-probs, and the computation of a cell's result document."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from prefzoo import __version__
from prefzoo.algorithms.engine.along_training import evaluate_at
from prefzoo.algorithms.engine.checkpointing import cap_device_memory
from prefzoo.algorithms.engine.data import tokenize_pairs
from prefzoo.algorithms.engine.models import add_adapter, cache_dir, load_base, load_tokenizer, model_fingerprint
from prefzoo.algorithms.engine.pairwise import make_accelerator, visit_order
from prefzoo.algorithms.engine.processes import is_main, main_first, processes, run_device
from prefzoo.algorithms.engine.reference import cache_key, cached_reference_logps, with_reference
from prefzoo.algorithms.engine.runners import RunContext, run_family
from prefzoo.algorithms.engine.unpaired_data import tokenize_unpaired
from prefzoo.algorithms.framework.base import Algorithm
from prefzoo.algorithms.framework.config import AlgorithmConfig
from prefzoo.benchmarks.harness.documents import SCHEMA_VERSION
from prefzoo.benchmarks.harness.results import result_path, run_hash, write_json_atomic
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.profiles import ENGINE_REVISION, REFERENCE, Profile, engine_revision
from prefzoo.registry import ALGORITHMS


class LMRun:
    """The shared state of one LM benchmark run: model, tokenizer, data, reference numbers; it computes
    one (algorithm, seed) cell at a time (``compute``) for ``cells``."""

    def __init__(self, profile: Profile, profile_name: str, results_root: Path, log: Callable[[str], None], source,
                 seeds: Sequence[int] = (0,), runs_root: Path = Path("runs"), max_memory: int | None = None):
        self.profile, self.profile_name, self.results_root, self.log = profile, profile_name, results_root, log
        self.max_memory = max_memory
        self.source, self.seeds, self.runs_root = source, seeds, runs_root
        self.device = run_device()
        self._loaded = False
        self.data_key = source.key(model_fingerprint(profile.model))
        self.engine_revision = engine_revision(self.device)
        self.settings_hash_input = {"profile": profile.to_dict(), "data_key": self.data_key,
                                    "engine_revision": self.engine_revision}
        self.reference_eval: dict[int, Any] = {}
        """Reference samples per seed handed over by the driver (a Ray worker may not see the results)."""
        self.unpickled = False

    _LOADED = ("memory_budget", "tokenizer", "model", "eval_prompts", "train_prompts", "eval_gold", "accelerator",
               "train_data", "eval_data", "ood_data", "ood_gold", "labels_against_gold", "reward_models")

    def __getstate__(self) -> dict[str, Any]:
        """What a Ray task receives: the run's settings, not its loaded model and data (a worker loads its own)."""
        state = {k: v for k, v in self.__dict__.items() if k not in self._LOADED}
        return {**state, "_loaded": False}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, unpickled=True)
        self.device = run_device()
        if engine_revision(self.device) != self.engine_revision:  # the result paths are the driver's
            raise RuntimeError(f"this worker computes on {self.device.type}, the driver on another kind of device: "
                               "run the driver on a machine like the workers (both with a GPU, or both without)")

    def identity(self) -> str:
        """Two runs with the same identity load the same model and data and write to the same places."""
        return json.dumps([self.settings_hash_input, self.profile_name, str(self.results_root), str(self.runs_root),
                           self.source.name, self.max_memory], sort_keys=True, default=str)

    def load(self) -> None:
        """Model, data and reference log-probs: loaded on the first cell that is not already done."""
        if self._loaded:
            return
        p = self.profile
        start = time.perf_counter()
        self.memory_budget = cap_device_memory(self.device, self.max_memory)
        self.tokenizer = load_tokenizer(p.model)
        self.model = add_adapter(load_base(p.model, self.device), p.model)
        self.log(f"model {p.model.model} loaded in {time.perf_counter() - start:.1f} s "
                 f"({'nf4 QLoRA' if p.model.quantize else 'LoRA'} on {self.device}"
                 + (f"; data-parallel cells over {processes()} processes)" if processes() > 1 else ")"))
        start = time.perf_counter()
        with main_first():  # generated data are cached by the main process; the others read them
            data = self.source.load(self.model, self.tokenizer, self.data_key)
        self.log(f"data: {len(data.train)} train {'rows' if self.source.unpaired else 'pairs'}, "
                 f"{len(data.eval)} held-out pairs "
                 f"({time.perf_counter() - start:.1f} s)")
        self.eval_prompts = data.eval_prompts
        self.train_prompts = [row["prompt"] for row in data.train]
        self.eval_gold = ([(row["gold_chosen"], row["gold_rejected"]) for row in data.eval]
                          if self.source.has_gold else None)
        self.labels_against_gold = (sum(r["gold_chosen"] < r["gold_rejected"] for r in data.train) / len(data.train)
                                    if self.source.has_gold and "gold_chosen" in data.train[0] else None)
        fp = model_fingerprint(p.model)
        self.reward_models = cache_dir() / "reward-models" / f"{fp}-r{self.engine_revision}"
        if self.engine_revision != ENGINE_REVISION:  # reference log-probs of another arithmetic
            fp = f"{fp}-r{self.engine_revision}"
        tokenize_train = tokenize_unpaired if self.source.unpaired else tokenize_pairs
        train = tokenize_train(data.train, self.tokenizer, p.tokenization, f"{self.source.name} train")
        held_out = tokenize_pairs(data.eval, self.tokenizer, p.tokenization, f"{self.source.name} held-out")
        self.ood_data = self.ood_gold = None
        if data.ood and self.source.has_gold:
            self.ood_data = list(tokenize_pairs(data.ood, self.tokenizer, p.tokenization,
                                                f"{self.source.name} out-of-distribution held-out"))
            self.ood_gold = torch.tensor([(r["gold_chosen"], r["gold_rejected"]) for r in data.ood], dtype=torch.float64)
        self.accelerator = make_accelerator(p.train, logging_dir=self.runs_root / self.source.suite / "logs")
        read = set().union(*(visit_order(len(train), dataclasses.replace(p.train, seed=s)) for s in self.seeds))
        with main_first():  # reference log-probs likewise
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

    def result_path(self, name: str, config: AlgorithmConfig | None, seed: int,
                    tuning: dict[str, Any] | None = None) -> Path:
        """Where the (algorithm, seed) cell's result goes; ``tuning`` (from ``tuning.select_config``)
        marks a config selected by ``--tune``, a setting of its own."""
        from prefzoo.benchmarks.suites.lm.tuning import tuned

        digest = run_hash(config.to_dict() if config else {}, {**self.settings_hash_input, **tuned(tuning)})
        return result_path(self.results_root, self.source.suite, name, seed, digest)

    def run_dir(self, name: str, result: Path) -> Path:
        """The folder of a cell's adapters and logs, named as its result file is (seed and hash)."""
        return self.runs_root / self.source.suite / name / result.stem

    def compute(self, name: str, cls: type[Algorithm] | None, config: AlgorithmConfig | None, seed: int,
                tuning: dict[str, Any] | None = None) -> tuple[Path, dict]:
        """Train and evaluate one (algorithm, seed) cell now: its result path and document (unwritten)."""
        path = self.result_path(name, config, seed, tuning)
        digest = path.stem.split("-", 1)[1]
        self.load()
        from prefzoo.benchmarks.suites.lm.evaluation import evaluate_policy

        p = self.profile
        doc: dict[str, Any] = {
            "schema": SCHEMA_VERSION, "suite": self.source.suite, "data_options": self.source.data_options,
            "dataset": self.source.name, "has_gold": self.source.has_gold,
            "algorithm": name, "seed": seed, "hash": digest, "profile": self.profile_name,
            "settings": p.to_dict(), "data_key": self.data_key, "prefzoo_version": __version__,
            "engine_revision": self.engine_revision,
            **({"labeller_temperature": self.source.relabel_at} if getattr(self.source, "relabel_at", None) else {}),
            **({"labels_against_gold": self.labels_against_gold} if self.labels_against_gold is not None else {}),
            "device": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu",
            "config": config.to_dict() if config else {},
            "family": str(cls.family) if cls else "reference", **({"tuning": tuning} if tuning else {}),
            "paper": cls.paper if cls else "", "origin": ALGORITHMS.origin(name) if cls else "",
        }
        if cls is None:
            doc["train"] = None
            doc["eval"] = evaluate_policy(self, None, seed)
        else:
            algorithm = cls(config)
            if tuning:
                searched = tuning["space"]
                kept = ", defaults kept" if tuning.get("best", tuning["selected"]) != tuning["selected"] else ""
                doc["label"] = f"{name} ({', '.join(f'{k}={getattr(config, k):.3g}' for k in searched)}{kept})"
            if algorithm.trains_policy:
                self.reset_policy(seed)
            out_dir = self.run_dir(name, path)
            checkpoints: list[dict[str, Any]] = []
            evaluating = [0.0]  # seconds spent evaluating along training, which is not training time

            def evaluate(step: int) -> None:
                start = time.perf_counter()
                checkpoints.append({"step": step, "eval": evaluate_policy(self, algorithm, seed)})
                evaluating[0] += time.perf_counter() - start

            along = (evaluate_at(p.eval_at, evaluate) if algorithm.trains_policy and p.eval_at
                     else contextlib.nullcontext())
            with along:
                result = run_family(algorithm, self.context(name, seed, out_dir))
            if checkpoints:
                doc["checkpoints"] = checkpoints
                result.train.wall_time_s -= evaluating[0]
            doc.update(result.document())
            field = cls.Config.strength
            if field and not tuning and getattr(config, field) != getattr(cls.Config(), field):
                doc["label"] = f"{doc.get('label', name)} [{field}={getattr(config, field):.3g}]"  # a swept row
            self.log(f"{name} seed {seed}: trained in {result.train.wall_time_s:.1f} s, "
                     f"final loss {result.train.history[-1]['loss']:.4f}")
            if algorithm.trains_policy:
                if is_main():
                    self.model.save_pretrained(out_dir)
                doc["adapter"] = str(out_dir)
                if algorithm.state_dict() and is_main():
                    write_json_atomic(out_dir / "algorithm_state.json", algorithm.state_dict())
                doc["eval"] = evaluate_policy(self, algorithm, seed)
            else:
                doc["eval"] = result.evaluation
        return path, LMResult.checked(doc)

    def reset_policy(self, seed: int) -> None:
        reset_adapter(self.model, seed)

    def policy_adapter(self, name: str, seed: int, config: AlgorithmConfig | None = None) -> Path:
        """The saved adapter of ``name``'s policy at ``config`` (default: its defaults) and ``seed`` in
        this setting."""
        config = config or ALGORITHMS.get(name).Config()
        path = self.result_path(name, config, seed)
        folder = self.run_dir(name, path)
        if not path.exists() or not (folder / "adapter_config.json").exists():
            raise ValueError(f"reward extraction reads {name!r}'s trained policy at seed {seed} of this setting "
                             f"and config {config.to_dict()}, which has no result and adapter yet ({path.name}, "
                             f"{folder}): run --algorithms {name} first with that config, or both in one run")
        return folder

    def context(self, name: str, seed: int, out_dir: Path) -> RunContext:
        p = self.profile
        return RunContext(
            model=self.model, tokenizer=self.tokenizer, model_settings=p.model,
            train=dataclasses.replace(p.train, seed=seed), accelerator=self.accelerator, train_data=self.train_data,
            train_prompts=self.train_prompts, eval_data=self.eval_data, out_dir=out_dir, run_name=name,
            gold=self.source.gold if self.source.has_gold else None,
            eval_gold=torch.tensor(self.eval_gold, dtype=torch.float64) if self.eval_gold else None,
            ood_data=self.ood_data, ood_gold=self.ood_gold,
            label_temperature=getattr(self.source, "label_temperature", p.data.label_temperature),
            online=dataclasses.replace(p.online, max_new_tokens=p.data.max_new_tokens),
            rl=dataclasses.replace(p.rl, max_new_tokens=p.data.max_new_tokens), reward_epochs=p.reward_epochs,
            reward_labels=p.reward_labels,
            policy_adapter=lambda policy, config: self.policy_adapter(policy, seed, config),
            sampling={"max_new_tokens": p.data.max_new_tokens, "batch_size": p.eval_batch_size, **p.data.sampler()},
            max_completion_length=p.tokenization.max_completion_length, log=self.log,
            memory_budget=self.memory_budget, reward_model_cache=self.reward_models,
            principles=getattr(self.source, "principles", None))

    def reference_samples(self, seed: int) -> dict:
        """The samples of the reference cell of ``seed`` (its result file), which the win rates of that
        seed compare against."""
        if seed in self.reference_eval:
            return self.reference_eval[seed]
        path = self.result_path(REFERENCE, None, seed)
        if not path.exists():
            raise RuntimeError(f"the reference cell of seed {seed} must run before the algorithms ({path})")
        return json.loads(path.read_text())["eval"]["samples"]


def reset_adapter(model, seed: int) -> None:
    """Put the policy's LoRA adapter back to its initialisation (A random from ``seed``, B = 0): π = π_ref again."""
    from peft.tuners.lora import LoraLayer

    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, LoraLayer) and model.active_adapter in module.lora_A:
            module.reset_lora_parameters(model.active_adapter, init_lora_weights=True)
