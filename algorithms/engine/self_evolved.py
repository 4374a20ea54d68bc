"""The reward-learning family's loop for a semi-supervised learner (``uses_unlabelled``: SER, Huang et al.
2024): a seed reward model on the labelled pairs, then rounds in which it labels the unlabelled pairs
itself, keeps what its selection rule trusts, and is retrained — each round from the same initial
weights — while accuracy on a held-out share of the labelled pairs does not fall.
"""

from __future__ import annotations

import random
from typing import Any, Callable

import torch

from prefzoo.algorithms.engine.pairwise import TrainSettings
from prefzoo.algorithms.engine.reward_model import RewardModel, RewardTrainResult, train_reward_model
from prefzoo.algorithms.framework.base import RewardLearning


def hide_labels(rows: list[dict], seed: int) -> list[dict]:
    """The pairs with chosen and rejected swapped in a random half (seeded), so that which response
    comes first says nothing about the label."""
    rng = random.Random(seed)
    return [swapped(row) if rng.random() < 0.5 else row for row in rows]


def swapped(row: dict) -> dict:
    """The pair with its two responses (and everything recorded per response) exchanged."""
    out = dict(row)
    for key in row:
        if key.startswith("chosen") or key.endswith("_chosen"):
            other = key.replace("chosen", "rejected")
            out[key], out[other] = row[other], row[key]
    return out


def _state(reward_model: RewardModel) -> dict[str, torch.Tensor]:
    tag = f".{reward_model.adapter}."
    weights = {n: p.detach().clone() for n, p in reward_model.model.named_parameters() if tag in n}
    return {**weights, **{f"head.{k}": v.detach().clone() for k, v in reward_model.head.state_dict().items()}}


def _restore(reward_model: RewardModel, state: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, p in reward_model.model.named_parameters():
            if name in state:
                p.copy_(state[name])
        reward_model.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})


def accuracy(reward_model: RewardModel, rows: list[dict], pad_id: int) -> float:
    """The share of labelled pairs the model orders as labelled (a tie counts one half)."""
    chosen, rejected = reward_model.score_pairs(rows, pad_id)
    return float(((chosen > rejected).double() + 0.5 * (chosen == rejected).double()).mean())


def train_self_evolved(algorithm: RewardLearning, reward_model: RewardModel, labelled: list[dict],
                       unlabelled: list[dict], pad_id: int, settings: TrainSettings, epochs: int, accelerator=None,
                       log: Callable[[str], None] = print) -> tuple[RewardTrainResult, dict[str, Any]]:
    """SER's rounds (``SelfEvolvedReward``'s rule) on ``labelled`` pairs (chosen preferred) and
    ``unlabelled`` ones (order meaningless, see :func:`hide_labels`). Every round trains ``epochs``
    epochs from the reward model's initial weights. Returns the kept model's training record (wall
    time, tokens and history summed over every round trained) and the rounds' record."""
    config = algorithm.config
    valid_n = algorithm.validation_size(len(labelled))
    train_rows, valid_rows = labelled[:-valid_n], labelled[-valid_n:]
    initial = _state(reward_model)
    result = train_reward_model(algorithm, reward_model, train_rows, pad_id, settings, epochs, accelerator)
    wall, tokens, peak, history = result.wall_time_s, result.train_tokens, result.peak_memory_bytes, result.history
    best_accuracy, best_state, kept = accuracy(reward_model, valid_rows, pad_id), _state(reward_model), 0
    record = [{"round": 0, "status": None, "self_labelled": 0, "validation_accuracy": best_accuracy}]
    log(f"{algorithm.name}: seed model on {len(train_rows)} labelled pairs, validation accuracy "
        f"{best_accuracy:.3f} on {valid_n}")
    status = torch.ones(1, dtype=torch.long)
    last_keep = last_first = torch.zeros(len(unlabelled), dtype=torch.bool)
    stop = "rounds" if unlabelled else "nothing unlabelled"
    for round_ in range(1, config.rounds + 1 if unlabelled else 1):
        first, second = reward_model.score_pairs(unlabelled, pad_id)
        keep, first_won, status, new = algorithm.round_selection(torch.sigmoid(first), torch.sigmoid(second), status,
                                                                 last_keep, last_first)
        if not new:
            stop = "converged"
            break
        last_keep, last_first = keep, first_won
        selected = [row if won else swapped(row)
                    for row, k, won in zip(unlabelled, keep.tolist(), first_won.tolist()) if k]
        _restore(reward_model, initial)
        result = train_reward_model(algorithm, reward_model, train_rows + selected, pad_id, settings, epochs,
                                    accelerator)
        wall, tokens = wall + result.wall_time_s, tokens + result.train_tokens
        peak, history = max(peak, result.peak_memory_bytes), history + result.history
        value = accuracy(reward_model, valid_rows, pad_id)
        record.append({"round": round_, "status": int(status), "self_labelled": len(selected),
                       "validation_accuracy": value})
        log(f"{algorithm.name}: round {round_} (status {int(status)}) self-labelled {len(selected)} of "
            f"{len(unlabelled)} pairs, validation accuracy {value:.3f}")
        if not bool(algorithm.improved(torch.tensor(value), torch.tensor(best_accuracy))):
            stop = "validation accuracy fell"
            break
        best_accuracy, best_state, kept = value, _state(reward_model), round_
    _restore(reward_model, best_state)
    summary = {"rounds": record, "kept_round": kept, "stopped": stop, "validation_pairs": valid_n,
               "labelled_train_pairs": len(train_rows), "self_labelled": record[kept]["self_labelled"]}
    return RewardTrainResult(history, wall, tokens, peak, result.labels), summary
