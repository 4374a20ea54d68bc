"""Rows of one setting that are one policy: rows whose held-out samples, at every evaluation along
training and at the end, are the same texts on every seed the rows share. Every row samples the
held-out prompts with the same sampling seeds, so two policies draw the same texts at every evaluation
on every seed only if they are one policy, or differ below what sampling can show. Such rows are one
result counted twice: the leaderboard says so under the setting's title."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

from prefzoo.algorithms.engine.runners import rl_minibatch
from prefzoo.algorithms.framework.base import Family
from prefzoo.benchmarks.harness.tables import code_list
from prefzoo.benchmarks.suites.lm.documents import LMResult


RL = str(Family.RL)


def _samples(doc: LMResult) -> tuple[tuple[str, ...], ...] | None:
    """The texts of every evaluation of ``doc``, along training then final; None without samples."""
    evaluations = [c.eval for c in doc.checkpoints or []] + [doc.eval]
    if any(e.samples is None for e in evaluations):
        return None
    return tuple(tuple(e.samples.texts) for e in evaluations)


def identical_rows(group: Sequence[LMResult]) -> list[tuple[list[str], int, set[str]]]:
    """Classes of two or more rows (a row: one algorithm and config) of ``group`` whose samples are equal
    on every seed they share, each with the number of seeds its rows all share and their families; reward
    models and the reference are left out."""
    rows: dict[tuple[str, str], dict[int, tuple]] = {}
    names: dict[tuple[str, str], tuple[str, str]] = {}
    for doc in group:
        texts = _samples(doc)
        if doc.train is None or doc.eval.reward is not None or texts is None:
            continue
        rows.setdefault((doc.algorithm, doc.hash), {})[doc.seed] = texts
        names[(doc.algorithm, doc.hash)] = (doc.row_name, doc.family)
    classes: list[list[tuple[str, str]]] = []
    for key in sorted(rows):
        for members in classes:
            shared = set(rows[key]) & set(rows[members[0]])
            if shared and all(rows[key][s] == rows[members[0]][s] for s in shared):
                members.append(key)
                break
        else:
            classes.append([key])
    found = []
    for members in classes:
        if len(members) > 1:
            seeds = set.intersection(*(set(rows[m]) for m in members))
            found.append((sorted(names[m][0] for m in members), len(seeds), {names[m][1] for m in members}))
    return found


def on_policy(doc: LMResult) -> bool:
    """Whether ``doc``'s setting takes one optimiser step per rollout (one epoch, one minibatch), so that
    every RL loss is taken at π = π_old."""
    rl = SimpleNamespace(**{"epochs": 1, "steps_per_rollout": 0, **doc.settings.get("rl", {})})
    train = SimpleNamespace(**doc.settings["train"])
    return rl.epochs == 1 and rl_minibatch(rl, train) >= train.batch_size


def _and(names: list[str]) -> str:
    return code_list(names) if len(names) > 2 else " and ".join(f"`{n}`" for n in names)


def identical_rows_lines(group: Sequence[LMResult]) -> list[str]:
    """The leaderboard's sentence on ``identical_rows`` of a setting, or nothing where there are none."""
    found = identical_rows(group)
    if not found:
        return []
    items = [f"{_and(names)} drew the same held-out samples at every evaluation on each of the {seeds} "
             f"seed{'s' if seeds != 1 else ''} they share" for names, seeds, _ in found]
    why = ("" if any(families != {RL} for _, _, families in found) or not on_policy(group[0]) else
           " For critic-free RL this is what on-policy training does: with one optimiser step per rollout every "
           "importance ratio is 1 when the loss is taken, and losses that differ only in how they treat a ratio "
           "away from 1 have the same gradient ([the smol-sentiment suite's page](../docs/suites/smol-sentiment.md"
           "#on-policy-rl-one-policy-in-several-rows)).")
    return [f"**One policy in several rows.** {'; '.join(items)}. As far as sampling can show, the rows of each "
            "such class are one policy in this setting: one result counted more than once, whose differences are "
            f"zero by construction, not a tie between methods.{why}", ""]
