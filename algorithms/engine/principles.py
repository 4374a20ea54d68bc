"""Principles for an instructable reward model (SALMON, Sun et al. 2023): what a suite declares, how a
principle list enters the reward model's input, and the training pairs relabelled under drawn principles.

A suite that has principles gives each a definition, its negation and a relative score of a tokenised
pair (> 0 when the chosen response is better under it). The reward model reads the principle list as
a text prefix before the conversation — ``PROMPT`` — in training (the prefix inside ``prompt_ids``)
and when it scores (``InstructedRewardModel`` prepends it), the same tokens both ways.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from prefzoo.algorithms.engine.reward_model import RewardModel

PROMPT = "Judge the reply by these principles:\n{principles}\n\n"


@dataclass(frozen=True)
class Principle:
    definition: str
    negative_definition: str
    score: Callable[[dict], float]
    """The pair's relative score under the principle, from its tokenised row; > 0: chosen is better."""


def principle_names(value: str, principles: Mapping[str, Principle]) -> list[str]:
    """The principle names a setting such as "safe" or "helpful,safe" lists ("" lists them all)."""
    names = [n.strip() for n in value.split(",") if n.strip()] or list(principles)
    for name in names:
        if name not in principles:
            raise ValueError(f"principle {name!r}: this suite's principles are {', '.join(principles)}")
    return names


def principle_text(principles: Mapping[str, Principle], names: Sequence[str],
                   negated: Sequence[bool] | None = None) -> str:
    """The reward model's prefix listing ``names`` (a negated one by its negative definition)."""
    negated = negated or [False] * len(names)
    lines = [f"- {principles[n].negative_definition if neg else principles[n].definition}"
             for n, neg in zip(names, negated)]
    return PROMPT.format(principles="\n".join(lines))


def prefix_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


class InstructedRewardModel(RewardModel):
    """A reward model asked about fixed principles: every scored sequence ``(N, L)`` is read after the
    principles' prefix (``P`` tokens); hidden states come back for the sequence's own positions only,
    ``(N, L, H)``, so scoring and padding work as for the plain model."""

    def __init__(self, model, adapter: str, head, prefix: Sequence[int]):
        super().__init__(model, adapter, head)
        self.prefix = list(prefix)

    @classmethod
    def asking(cls, reward_model: RewardModel, prefix: Sequence[int]) -> InstructedRewardModel:
        return cls(reward_model.model, reward_model.adapter, reward_model.head, prefix)

    def hidden(self, batch: dict[str, Tensor]) -> Tensor:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        prefix = torch.tensor(self.prefix, dtype=ids.dtype, device=ids.device).expand(ids.shape[0], -1)
        full = {"input_ids": torch.cat([prefix, ids], 1),
                "attention_mask": torch.cat([torch.ones_like(prefix, dtype=mask.dtype), mask], 1)}
        return super().hidden(full)[:, len(self.prefix):]


def relabelled_pairs(learner, rows: Sequence[dict], principles: Mapping[str, Principle], tokenizer, passes: int,
                     seed: int) -> list[dict]:
    """``passes`` passes over ``rows`` (tokenised pairs), each example relabelled by ``learner.draw``
    under principles drawn for it, its first response the preferred one and the drawn principles'
    text before its prompt. Examples without a preference are dropped."""
    from prefzoo.algorithms.engine.self_evolved import swapped

    names = list(principles)
    scores = [[principles[n].score(row) for n in names] for row in rows]
    variances = learner.variances(scores)
    rng = random.Random(seed)
    prefixes: dict[tuple, list[int]] = {}
    out = []
    for _ in range(passes):
        for row, row_scores in zip(rows, scores):
            draw = learner.draw(row_scores, variances, rng)
            if draw is None:
                continue
            key = (draw.principles, draw.negated)
            if key not in prefixes:
                listed = [names[d] for d in draw.principles]
                prefixes[key] = prefix_ids(tokenizer, principle_text(principles, listed, draw.negated))
            pair = row if draw.first_preferred else swapped(row)
            out.append({"prompt_ids": prefixes[key] + list(pair["prompt_ids"]), "chosen_ids": pair["chosen_ids"],
                        "rejected_ids": pair["rejected_ids"]})
    return out


def principle_agreement(reward_model: RewardModel, rows: Sequence[dict], principles: Mapping[str, Principle],
                        tokenizer, pad_id: int) -> dict[str, dict[str, float | None]]:
    """For each principle setting (each principle alone, then all together), the share of ``rows``
    with a preference under each principle that the model, asked about that setting, orders the same
    way (a tie counts one half; None where no row has a preference)."""
    settings = [[n] for n in principles] + ([list(principles)] if len(principles) > 1 else [])
    truth = {n: torch.tensor([principles[n].score(row) for row in rows]) for n in principles}
    out = {}
    for names in settings:
        asked = InstructedRewardModel.asking(reward_model, prefix_ids(tokenizer, principle_text(principles, names)))
        chosen, rejected = asked.score_pairs(list(rows), pad_id)
        margin = chosen - rejected
        agreement = {}
        for name, s in truth.items():
            has = s != 0
            agree = (torch.sign(margin[has]) == torch.sign(s[has])).double() + 0.5 * (margin[has] == 0).double()
            agreement[name] = float(agree.mean()) if has.any() else None
        out[",".join(names)] = agreement
    return out
