"""Section titles name what a setting changes against the suite's main one."""

from __future__ import annotations

import copy

from prefzoo.benchmarks.suites.lm.setting_names import setting_name
from tests.helpers import lm_results, lm_result


def _doc(**changes) -> dict:
    doc = lm_result()
    settings = copy.deepcopy(doc["settings"])
    for key, value in changes.pop("settings", {}).items():
        *path, leaf = key.split(".")
        target = settings
        for part in path:
            target = target[part]
        if value is None:  # a setting written only where taken, not taken
            del target[leaf]
        else:
            target[leaf] = value
    return {**doc, "settings": settings, **changes}


def test_a_setting_is_named_by_what_it_changes():
    main, labels, budget, fixed, relabelled, tuned, two_factor = lm_results(
        _doc(), _doc(settings={"reward_labels": 0.3}),
        _doc(settings={"train.learning_rate": 1e-4, "train.steps": 12, "eval_at": [3, 6]}),
        _doc(settings={"eval_at": None, "kl_samples": None}),
        _doc(labeller_temperature=1.0, data_key="k+label"),
        _doc(tuning={"trials": 3, "space": {}, "selected": 0, "trial_seed": 0, "validation_prompts": 64,
                     "candidates": []}),
        _doc(data_options={"preference": "safety-first"}))
    assert setting_name(main, main) == "main setting"
    assert setting_name(labels, main) == "30% of the labels"
    assert setting_name(budget, main) == "learning rate 0.0001; 12 steps; evaluated after steps 3, 6"
    assert setting_name(fixed, main) == "evaluated at the end only; no KL(π‖π_ref) estimate"
    assert setting_name(relabelled, main) == "labeller temperature 1"
    assert setting_name(tuned, main) == "tuned: 3 trials"
    assert setting_name(two_factor, main) == "safety-first preference"
    assert setting_name(main, labels) == "all the labels"


def test_an_rl_loop_setting_is_named_by_its_steps_per_rollout():
    main, split = lm_results(_doc(), _doc(settings={"rl.steps_per_rollout": 4}))
    assert setting_name(split, main) == "RL: 4 optimiser steps per rollout"
