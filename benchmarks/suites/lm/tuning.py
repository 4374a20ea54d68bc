"""``prefzoo bench --tune N`` on an LM suite: every algorithm gets the same N trials from its declared
search space (``algorithms/framework/search_space.py``), each trained on the cell's budget with the first seed
and scored by the mean gold reward of its samples on validation prompts disjoint from the held-out
(test) prompts. The best trial's config replaces the defaults only where its gain over them, paired on
those prompts, exceeds the validation noise (``harness.selection``); the selected config then runs as
ordinary cells on every seed and is evaluated on the test prompts like any other row, in a section of
its own ("tuned (N trials)").

A trial's score is kept in the runs folder (``tuning/<algorithm>/trial-<hash>.json``), so a rerun skips
finished trials as it skips finished cells.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from prefzoo.algorithms.engine.generation import sample_responses
from prefzoo.algorithms.engine.runners import run_family
from prefzoo.algorithms.framework.config import AlgorithmConfig
from prefzoo.algorithms.framework.search_space import search_space, trial_configs
from prefzoo.benchmarks.harness.results import run_hash, write_json_atomic
from prefzoo.benchmarks.harness.selection import RULE, select_trial

VALIDATION_SEED = 20_000
"""Sampling seeds of the validation evaluation (the test evaluation uses 10,000 + seed)."""


def select_config(run, cls, trials: int, seed: int, base: AlgorithmConfig | None = None) -> tuple[AlgorithmConfig,
                                                                                                      dict[str, Any]]:
    """Train and score ``trials`` configs of ``cls``; the best one and the record the result documents
    carry (every trial's config and validation gold reward, the space, the validation prompts)."""
    if not run.source.has_gold:
        raise ValueError(f"--tune selects on the gold reward of validation prompts; {run.source.name} has none")
    p = run.profile
    n_validation = p.data.eval_prompts
    prompts = run.source.validation_prompts(p.data, n_validation)
    configs = trial_configs(cls.name, cls.Config, trials, base)
    scores, per_prompt = [], []
    for i, config in enumerate(configs):
        digest = run_hash(config.to_dict(), {**run.settings_hash_input, "validation_prompts": n_validation,
                                             "trial_seed": seed})
        path = Path(run.runs_root) / run.source.suite / "tuning" / cls.name / f"trial-{digest}.json"
        trial = json.loads(path.read_text()) if path.exists() else {}
        if "prompt_rewards" in trial:  # a trial file without them predates the noise rule: run it again
            scores.append(trial["validation_gold_reward"])
            per_prompt.append(torch.tensor(trial["prompt_rewards"], dtype=torch.float64))
            continue
        run.load()
        algorithm = cls(config)
        run.reset_policy(seed)
        run_family(algorithm, run.context(cls.name, seed, path.parent / f"trial-{digest}"))
        samples = sample_responses(run.model, run.tokenizer, prompts, p.samples_per_prompt, p.data.max_new_tokens,
                                   p.eval_batch_size, seed=VALIDATION_SEED + seed, **p.data.sampler())
        gold = run.source.gold([prompts[s.prompt_index] for s in samples], [s.text for s in samples]).double()
        prompt_rewards = gold.view(len(prompts), -1).mean(1)  # samples come prompt by prompt
        score = float(gold.mean())
        write_json_atomic(path, {"algorithm": cls.name, "trial": i, "config": config.to_dict(),
                                 "validation_gold_reward": score, "prompt_rewards": prompt_rewards.tolist()})
        run.log(f"{cls.name} trial {i + 1}/{len(configs)}: validation gold reward {score:.3f} ({config.to_dict()})")
        scores.append(score)
        per_prompt.append(prompt_rewards)
    chosen = select_trial(per_prompt)
    run.log(f"{cls.name}: {chosen.describe()} on {n_validation} validation prompts")
    record = {"trials": trials, "selected": chosen.selected, "best": chosen.best, "rule": RULE,
              "gain": round(chosen.gain, 6), "noise": round(chosen.noise, 6),
              "space": {k: list(v) for k, v in search_space(cls.Config, configs[0]).items()},
              "validation_prompts": n_validation, "trial_seed": seed,
              "candidates": [{"config": c.to_dict(), "validation_gold_reward": round(s, 6)}
                             for c, s in zip(configs, scores)]}
    return configs[chosen.selected], record


def tuned(record: dict[str, Any] | None) -> dict[str, Any]:
    """What of a tuning record enters a cell's hash and its setting: the protocol, not the outcome."""
    if not record:
        return {}
    return {"tuning": {k: record[k] for k in ("trials", "validation_prompts", "trial_seed", "rule") if k in record}}
