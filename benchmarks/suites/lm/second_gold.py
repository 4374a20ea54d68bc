"""A second gold for a suite that has one (``--judge`` on smol-sentiment): the same trained policies,
their stored samples scored again by another judge, and whether the ranking holds under it.

Nothing is retrained: a pointwise judge scores each stored sample, the final evaluation's and every
checkpoint's, and the scores are added to the cell's result file (``LMResult.judged``). The leaderboard
then ranks the setting again with the judge's scores in place of the gold (``under``), with the same
statistics, and says how far the two orders agree: Spearman's ρ between the rows' mean rewards under the
two golds, with a bootstrap interval over seeds and prompts, and the rows whose verdict against the
reference changes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from prefzoo.benchmarks.harness.paired_stats import RESAMPLES
from prefzoo.benchmarks.harness.results import write_json_atomic
from prefzoo.benchmarks.harness.tables import code_list, markdown_table
from prefzoo.benchmarks.judges.base import Judge
from prefzoo.benchmarks.suites.lm.documents import Evaluation, LMResult
from prefzoo.benchmarks.suites.lm.matched_kl import matched_kl_rows
from prefzoo.benchmarks.suites.lm.table import aggregate, beats_reference, verdict


def rejudge(paths: Sequence[Path], judge: Judge, prompts: Callable[[], Sequence], log) -> int:
    """Add ``judge``'s scores of the stored samples to each result file in ``paths`` that lacks them
    (each file rewritten whole, atomically); returns how many were scored. ``prompts()`` gives the
    held-out prompts, asked for only where a file is scored."""
    if not judge.pointwise:
        raise ValueError(f"--judge {judge.spec}: a second gold rescores stored samples one at a time; the "
                         f"{judge.name} judge only compares pairs")
    scored = 0
    for path in paths:
        raw = json.loads(Path(path).read_text())
        if judge.spec in (raw.get("judged") or {}) or not (raw.get("eval") or {}).get("samples"):
            continue
        held_out = prompts()
        judged: dict[str, Any] = {"judge": judge.describe(), "rewards": _scores(raw["eval"]["samples"], judge, held_out)}
        if raw.get("checkpoints"):
            judged["checkpoints"] = [_scores(c["eval"]["samples"], judge, held_out) for c in raw["checkpoints"]]
        write_json_atomic(path, {**raw, "judged": {**(raw.get("judged") or {}), judge.spec: judged}})
        scored += 1
    log(f"--judge {judge.spec}: {scored} result files scored, {len(paths) - scored} had the scores already")
    return scored


def _scores(samples: dict, judge: Judge, prompts: Sequence) -> list[float]:
    return judge.score([prompts[i] for i in samples["prompt_ids"]], samples["texts"]).tolist()


def judges_of(group: Sequence[LMResult]) -> list[str]:
    """The second golds of a setting: those every reference cell of it has (rows are compared with it)."""
    specs = [set(d.judged or {}) for d in group if d.algorithm == "reference"]
    return sorted(set.intersection(*specs)) if specs else []


def under(doc: LMResult, spec: str) -> LMResult:
    """``doc`` with the judge ``spec``'s scores as its gold: every sample's reward, final and along
    training (the stored gold means are dropped; the table recomputes them from the samples)."""
    judged = doc.judged[spec]

    def rescored(evaluation: Evaluation, rewards: list[float]) -> Evaluation:
        samples = dataclasses.replace(evaluation.samples, rewards=rewards)
        return dataclasses.replace(evaluation, samples=samples, gold_reward=None, win_rate=None)

    checkpoints = doc.checkpoints
    if checkpoints:
        checkpoints = [dataclasses.replace(c, eval=rescored(c.eval, r)) for c, r in zip(checkpoints, judged.checkpoints)]
    return dataclasses.replace(doc, eval=rescored(doc.eval, judged.rewards), checkpoints=checkpoints)


def rank_agreement(first: Sequence[dict], second: Sequence[dict], level: float = 0.95,
                   resamples: int = RESAMPLES, seed: int = 0) -> dict[str, float] | None:
    """Spearman's ρ between the rows' mean gold under two golds (``aggregate`` rows of one setting, the
    reference left out), with a percentile interval from resampling seeds and prompts jointly for every
    row; None for fewer than three rows."""
    by_name = {r["algorithm"]: r for r in second}
    pairs = [(r["vectors"]["gold_reward"], by_name[r["algorithm"]]["vectors"]["gold_reward"]) for r in first
             if r["name"] != "reference" and r["algorithm"] in by_name and "gold_reward" in r["vectors"]
             and "gold_reward" in by_name[r["algorithm"]]["vectors"]]
    if len(pairs) < 3:
        return None
    g = torch.Generator().manual_seed(seed)
    prompts = next(iter(pairs[0][0].values())).shape[0]
    picks = torch.randint(0, prompts, (resamples, prompts), generator=g)

    def means(per_seed: dict[int, torch.Tensor]) -> tuple[float, torch.Tensor]:
        matrix = torch.stack(list(per_seed.values())).double()  # (S, P)
        seeds = torch.randint(0, matrix.shape[0], (resamples, matrix.shape[0]), generator=g)
        drawn = matrix[seeds].gather(2, picks[:, None, :].expand(-1, matrix.shape[0], -1)).mean((1, 2))
        return float(matrix.mean()), drawn

    a, b = zip(*[(means(x), means(y)) for x, y in pairs])
    rho = _spearman(torch.tensor([m for m, _ in a])[None], torch.tensor([m for m, _ in b])[None])[0]
    draws = _spearman(torch.stack([d for _, d in a], 1), torch.stack([d for _, d in b], 1))
    tail = (1 - level) / 2
    low, high = torch.nanquantile(draws, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return {"mean": float(rho), "low": low, "high": high, "rows": len(pairs)}


def _spearman(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Spearman's ρ of each row of ``x`` and ``y`` (R, N), ties given their average rank."""
    def ranks(v: torch.Tensor) -> torch.Tensor:
        less = (v[:, :, None] > v[:, None, :]).double().sum(2)
        equal = (v[:, :, None] == v[:, None, :]).double().sum(2)
        return less + (equal + 1) / 2
    rx, ry = ranks(x.double()), ranks(y.double())
    rx, ry = rx - rx.mean(1, keepdim=True), ry - ry.mean(1, keepdim=True)
    return (rx * ry).sum(1) / ((rx ** 2).sum(1) * (ry ** 2).sum(1)).sqrt()


def second_gold_lines(group: Sequence[LMResult], rows: Sequence[dict], ranked_table: Callable) -> list[str]:
    """The leaderboard's text for each second gold of a setting: its ranked table (``ranked_table(docs,
    rows)`` → headers and cells), the rank agreement with the first gold, and the rows whose verdict
    against the reference changes, and the gold at matched KL under it. ``rows``: the setting's
    ``aggregate`` under its own gold. Rows whose cells the judge has not scored are named, not ranked."""
    lines: list[str] = []
    for spec in judges_of(group):
        scored = [d for d in group if d.eval.samples is not None and spec in (d.judged or {})]
        unscored = sorted({d.row_name for d in group if d.eval.samples is not None and d not in scored})
        rescored = [under(d, spec) for d in scored]
        second = aggregate(rescored)
        agreement = rank_agreement(rows, second)
        first_verdict = {r["algorithm"]: beats_reference(r) for r in rows}
        word = {True: "above", False: "below", None: "indistinguishable from"}
        changed = [f"`{r['algorithm']}` ({word[first_verdict[r['algorithm']]]} the reference → "
                   f"{word[beats_reference(r)]} it)" for r in second
                   if r["algorithm"] in first_verdict and r.get("vs_reference") is not None
                   and beats_reference(r) != first_verdict[r["algorithm"]]]
        agree = ("fewer than three rows: no rank correlation" if agreement is None else
                 f"Spearman's ρ between the rows' mean rewards under the two golds {agreement['mean']:.2f} "
                 f"[{agreement['low']:.2f}, {agreement['high']:.2f}] over {agreement['rows']} rows (95% interval "
                 "from resampling seeds and prompts)")
        lines += [f"#### The same samples under a second gold: `{spec}`", "",
                  "Nothing retrained: every stored sample scored again by the judge, and the table ranked on its "
                  f"scores with the same statistics. {agree}. Verdicts against the reference that change: "
                  + (", ".join(changed) if changed else "none") + "."
                  + (f" Not yet scored by it (run the setting again with --judge {spec}): "
                     + code_list(unscored) + "." if unscored else ""), "",
                  verdict(second), "", markdown_table(*ranked_table(rescored, second)), ""]
        headers, matched, test = matched_kl_rows(rescored)
        if matched:
            lines += [f"Gold at matched KL under `{spec}`, read as above:", "", markdown_table(headers, matched), ""] \
                + ([test, ""] if test else [])
    return lines
