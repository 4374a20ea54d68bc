"""The reward-learning part of an LM suite's leaderboard: each reward learner's model against the gold
reward, and the rewards extracted from each policy, as pure functions of the result documents."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from prefzoo.benchmarks.harness.stats import mean_ci
from prefzoo.benchmarks.harness.tables import ci_text, delta_text, markdown_table
from prefzoo.benchmarks.suites.lm.documents import LMResult


def _stat(group: Sequence[LMResult], key: str, within_run: bool = False, part: str = "reward") -> str:
    """A reward diagnostic over a group's seeds: the mean ± the interval across seeds; with one seed the
    mean alone, or with ``within_run`` its bootstrap interval over pairs where the document has one.
    ``part``: ``reward`` (the held-out pairs) or ``reward_ood`` (the out-of-distribution ones; "—" unless
    every seed has them)."""
    if not all(getattr(d.eval, part) for d in group):
        return "—"
    mean, half = mean_ci([getattr(getattr(d.eval, part), key) for d in group])
    if len(group) > 1:
        return f"{mean:.3f} ± {half:.3f}"
    ci = getattr(getattr(group[0].eval, part), f"{key}_ci", None) if within_run else None  # ECE has none
    return f"{mean:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{mean:.3f}"


def reward_model_rows(docs: Sequence[LMResult]) -> tuple[list[str], list[list[str]]]:
    """One row per reward learner and config: its reward model against the gold reward on the held-out
    pairs: the mean over seeds with the Student-t interval across seeds, or with one seed the
    within-run bootstrap interval over pairs."""
    groups: dict[tuple[str, str], list[LMResult]] = defaultdict(list)
    for doc in docs:
        if doc.eval.reward:
            groups[(doc.algorithm, doc.hash)].append(doc)
    if not groups:
        return [], []
    headers = ["reward learner", "config", "seeds", "labelled pairs × epochs", "held-out pair accuracy (gold)",
               "out-of-distribution pair accuracy (gold)", "accuracy by gold margin (low / mid / high third)", "Pearson with gold", "Spearman with gold", "ECE",
               "implied T (labeller's)",
               "train time (s)", "paper"]
    rows = []
    for (name, _), group in sorted(groups.items()):
        first = group[0]

        def stat(key: str) -> str:
            return _stat(group, key, within_run=True)

        def by_margin() -> str:
            thirds = [d.eval.reward.accuracy_by_margin for d in group]
            if not all(thirds):
                return "—"
            return " / ".join(f"{mean_ci([t[i].accuracy for t in thirds])[0]:.2f}" for i in range(len(thirds[0])))

        def implied() -> str:
            values = [d.eval.reward.implied_temperature for d in group]
            label = labeller_temperature(first)
            if any(v is None for v in values):
                return "—"
            return f"{mean_ci(values)[0]:.3g}" + (f" ({label:g})" if label is not None else "")

        config = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in first.config.items())
        train = first.train
        labelled = train.labelled_pairs if train.labelled_pairs is not None else train.pairs
        rows.append([name, config, str(len(group)), f"{labelled} × {train.epochs}"
                     + (f" (+ {train.self_evolution.self_labelled} self-labelled)" if train.self_evolution else "")
                     + (f" ({train.relabelled_examples} relabelled under drawn principles, once each)"
                        if train.relabelled_examples is not None else ""),
                     stat("pair_accuracy"), _stat(group, "pair_accuracy", True, "reward_ood"), by_margin(),
                     stat("correlation"), stat("spearman") if first.eval.reward.spearman is not None else "—",
                     stat("ece"), implied(), f'{sum(d.train.wall_time_s for d in group) / len(group):.0f}',
                     first.paper])
    return headers, rows


def _same_config(doc: LMResult, changes: str) -> bool:
    """Whether ``doc``'s result is at its algorithm's defaults with ``changes`` applied (a JSON object, as
    ``reward_learner_config`` and ``policy_config`` hold the config of the algorithm they name)."""
    from prefzoo.algorithms.framework.config import ConfigError, config_from_changes
    from prefzoo.registry import ALGORITHMS

    try:
        named = config_from_changes(ALGORITHMS.get(doc.algorithm).Config, changes or "", "config").to_dict()
    except (LookupError, ConfigError):  # a result of an algorithm (or a field) this installation lacks
        return False
    return json.loads(json.dumps(doc.config, default=str)) == json.loads(json.dumps(named, default=str))


def _extracted_from(extraction: LMResult, policy: LMResult) -> bool:
    """Whether the ``irl`` result ``extraction`` read ``policy``'s adapter: the same algorithm, at its
    defaults with the extraction's ``policy_config`` applied."""
    return (extraction.config.get("policy") == policy.algorithm
            and _same_config(policy, extraction.config.get("policy_config", "")))


def extracted_reward_rows(docs: Sequence[LMResult]) -> tuple[list[str], list[list[str]]]:
    """One row per policy of the setting (algorithm and config, the ranked table's rows) and reward
    extracted from it: how well the reward it learned orders the held-out pairs as the gold reward does
    — its closed-form implicit reward where the algorithm has one (mean ± the interval across seeds),
    and the reward ``irl`` extracted from that policy (its algorithm and config) where that ran. Empty
    unless some policy has either."""
    extractions: dict[str, list[LMResult]] = defaultdict(list)
    policies: dict[tuple[str, str], list[LMResult]] = defaultdict(list)
    for doc in docs:
        if doc.eval.reward and _extracted(doc):
            extractions[doc.hash].append(doc)
        elif not doc.eval.reward and doc.train and doc.eval.gold_reward:
            policies[(doc.row_name, doc.hash)].append(doc)
    headers = ["policy", "implicit reward: held-out pair accuracy", "extracted reward: held-out pair accuracy",
               "extracted reward: Pearson with gold", "extractor", "seeds (policy / extraction)"]
    ranked = []
    for (label, _), group in policies.items():
        implicit = [d.eval.pair_accuracy.mean for d in group if d.eval.pair_accuracy]
        mean, half = mean_ci(implicit) if implicit else (float("nan"), 0.0)
        implicit_cell = ("— (none in closed form)" if not implicit
                         else f"{mean:.3f}" + (f" ± {half:.3f}" if len(implicit) > 1 else ""))
        mine = [e for e in extractions.values() if _extracted_from(e[0], group[0])] or [[]]
        for extraction in mine:
            cells = [label, implicit_cell, _stat(extraction, "pair_accuracy") if extraction else "—",
                     _stat(extraction, "correlation") if extraction else "—",
                     f"irl ({extraction[0].config['loss']})" if extraction else "—",
                     f"{len(group)} / {len(extraction)}"]
            ranked.append(((not extraction, not implicit, -mean if implicit else 0.0, label, cells[4]), cells))
    if all(key[0] and key[1] for key, _ in ranked):
        return [], []
    return headers, [cells for _, cells in sorted(ranked)]


def principle_rows(docs: Sequence[LMResult]) -> tuple[list[str], list[list[str]]]:
    """One row per instructable reward learner, config and principle it is asked about: the share of
    held-out pairs with a preference under each factor that it orders that factor's way (mean ± the
    interval across seeds)."""
    groups: dict[tuple[str, str], list[LMResult]] = defaultdict(list)
    for doc in docs:
        if doc.eval.principles:
            groups[(doc.algorithm, doc.hash)].append(doc)
    factors = sorted({f for group in groups.values() for a in group[0].eval.principles.values() for f in a})
    headers = ["reward learner", "asked about", "seeds", *(f"agrees with {f} [± seeds]" for f in factors)]
    rows = []
    for (name, _), group in sorted(groups.items()):
        for asked in group[0].eval.principles:
            cells = []
            for factor in factors:
                values = [d.eval.principles[asked][factor] for d in group]
                mean, half = mean_ci(values) if None not in values else (None, None)
                cells.append("—" if mean is None else f"{mean:.3f}" + (f" ± {half:.3f}" if len(group) > 1 else ""))
            rows.append([name, asked.replace(",", " + "), str(len(group)), *cells])
    return headers, rows


def principle_switch_rows(docs: Sequence[LMResult]) -> tuple[list[str], list[list[str]]]:
    """The principle-switch experiment: one row per RL run whose reward model was asked about a principle
    (``reward_principle``), with each factor's gold score of its policy and the change from the reference."""
    from prefzoo.benchmarks.suites.lm.table import aggregate

    if not any(d.config.get("reward_principle") for d in docs):
        return [], []
    headers = ["principle asked", "RL run", "seeds", "gold helpfulness [95% CI]", "Δ helpfulness vs reference",
               "violation rate [95% CI]", "Δ violation rate vs reference"]
    rows = [[r["config"]["reward_principle"], r["algorithm"], str(r["seeds"]), ci_text(r["gold_reward"]),
             delta_text(r.get("vs_reference")), ci_text(r.get("violation_rate")), delta_text(r.get("violations_vs_reference"))]
            for r in aggregate(docs) if r["config"].get("reward_principle")]
    return headers, sorted(rows)


def reward_sections(group: Sequence[LMResult]) -> list[str]:
    """Markdown lines of a setting's reward-model tables: each learner's model, an instructable model
    asked about each principle, the principle switch, the extracted rewards (each only where it has rows)."""

    sections = [
        ("Reward models", reward_model_rows,
         "Each reward learner trains its own adapter and scalar head on the shared base, on the pairs the step "
         f"budget reads, for {group[0].settings.get('reward_epochs', '?')} epochs (AdamW with the learner's "
         "α); diagnosed on the held-out pairs against the gold reward. ECE compares σ(r_w − r_l) with the "
         "labeller's own probability σ((g_w − g_l)/T), in 10 bins; the implied T is the labeller temperature the "
         "model's margins imply (1 / the slope of r_w − r_l on g_w − g_l), beside the labeller's own. Accuracy by "
         "gold margin splits the held-out pairs into thirds by g_w − g_l (the low third the labeller itself "
         "orders nearly by chance). Out-of-distribution pairs are made as the held-out pairs are, on prompts "
         "from templates and subjects no train or held-out prompt uses (the suite's `ood` module; "
         "\"incorrect generalisation\", Chaudhari et al. 2024). Pearson and Spearman score one response at a "
         "time. ± is the interval across seeds; with one seed, [low, high] is the bootstrap interval over pairs."),
        ("An instructable reward model asked about each principle (SALMON, Sun et al. 2023)", principle_rows,
         "The same reward model with different principles listed in its input: on the held-out pairs where a "
         "factor prefers one response, the share it orders that factor's way."),
        ("Principle switch: one reward model, a different principle at RL time", principle_switch_rows,
         "RL against the same instructable reward model, asked about a different principle per row; each "
         "factor's gold score of the resulting policy, with its paired change from the reference (intervals and "
         "tests as in the ranked table)."),
        ("What each policy learned to want (reward extraction, Joselowitz et al. 2024)", extracted_reward_rows,
         "Every policy of the setting: how well the reward it learned orders the held-out pairs as the gold "
         "reward does. The implicit reward is the algorithm's own closed form (β·log π/π_ref for the "
         "reference-based ones, the reference-free ones' own score), ± across seeds. The extracted reward is a "
         "reward model trained by max-margin inverse RL on the policy's samples against the reference's on the "
         "train prompts (`irl` with `policy=<algorithm>` and, for a row at a non-default config, `policy_config` "
         "naming it); \"—\" where it has not run."),
    ]
    lines: list[str] = []
    for heading, rows_of, text in sections:
        headers, rows = rows_of(group)
        if rows:
            lines += [f"#### {heading}", "", text, "", markdown_table(headers, rows), ""]
    return lines


def labeller_temperature(doc: LMResult) -> float | None:
    """The temperature of the labeller that ordered a result's train pairs (``--labeller-temperature``, else
    the data's own)."""
    if doc.labeller_temperature is not None:
        return doc.labeller_temperature
    return doc.settings.get("data", {}).get("label_temperature")


def _extracted(doc: LMResult) -> bool:
    """Whether ``doc`` is a reward extracted from a policy's demonstrations (``irl``)."""
    return doc.train is not None and doc.train.demonstrations is not None


def _curves(docs: Sequence[LMResult], value_of: Callable[[LMResult], Any],
            setting_of: Callable[[LMResult], Any]) -> list[tuple[str, list[tuple[Any, list[LMResult]]]]]:
    """Reward learners' results grouped into curves: one per learner, config and setting (``setting_of``:
    everything the curve holds fixed), each a list of (value of the varied knob, its seeds' documents),
    kept only where the knob takes two values or more."""
    curves: dict[tuple[str, str], dict[Any, list[LMResult]]] = defaultdict(lambda: defaultdict(list))
    for doc in docs:
        if not doc.eval.reward or not doc.train or _extracted(doc):
            continue
        key = json.dumps([setting_of(doc), doc.algorithm, doc.config], sort_keys=True, default=str)
        curves[(doc.algorithm, key)][value_of(doc)].append(doc)
    return [(name, sorted(by_value.items(), key=lambda kv: kv[0])) for (name, _), by_value in sorted(curves.items())
            if len(by_value) > 1]


def _downstream(docs: Sequence[LMResult], group: Sequence[LMResult]) -> str:
    """The policies RL trained against ``group``'s reward learner in ``group``'s setting (its config, its
    share of labels): each one's gold reward and its paired difference to the reference, both as the
    ranked table computes them (bootstrap over seeds and prompts); "—" where none ran."""
    from prefzoo.benchmarks.suites.lm.table import REFERENCE, aggregate, setting_id

    learner, setting = group[0], setting_id(group[0])
    same = [d for d in docs if setting_id(d) == setting]
    policies = [d for d in same if d.config.get("reward_learner") == learner.algorithm
                and _same_config(learner, d.config.get("reward_learner_config", ""))]
    if not policies:
        return "—"
    rows = aggregate([d for d in same if d.algorithm == REFERENCE] + policies)
    cells = [f"{row['name']} {ci_text(row['gold_reward'])}"
             + (f", Δ {delta_text(row['vs_reference'])}" if row.get("vs_reference") else "")
             for row in rows if row["name"] != REFERENCE and row["gold_reward"]]
    return "; ".join(cells) or "—"


def label_budget_rows(docs: Sequence[LMResult]) -> tuple[list[str], list[list[str]]]:
    """The label-budget curve across settings that differ only in ``reward_labels``: one row per reward
    learner and share of labels (the same learner at 10%, 30% and 100% side by side), with the gold reward
    of the policies RL trained against it at that share. Empty unless some learner ran at two shares or
    more."""
    headers = ["reward learner", "labels", "labelled pairs", "seeds", "held-out pair accuracy (gold)",
               "out-of-distribution pair accuracy (gold)", "Pearson with gold", "ECE",
               "RL on it: gold reward, Δ vs reference [95% CI]"]
    rows = []
    for name, curve in _curves(docs, lambda d: d.reward_labels,
                               lambda d: [{k: v for k, v in d.settings.items() if k != "reward_labels"}, d.data_key]):
        for share, group in reversed(curve):
            train = group[0].train
            labelled = train.labelled_pairs if train.labelled_pairs is not None else train.pairs
            rows.append([name, f"{share:.0%}", str(labelled), str(len(group)),
                         _stat(group, "pair_accuracy"), _stat(group, "pair_accuracy", part="reward_ood"),
                         *(_stat(group, key) for key in ("correlation", "ece")), _downstream(docs, group)])
    return headers, rows


def misspecification_rows(docs: Sequence[LMResult]) -> tuple[list[str], list[list[str]]]:
    """The same reward learners on train pairs labelled at different labeller temperatures, everything else
    equal (settings that differ only in ``--labeller-temperature``): one row per learner and temperature.
    Empty unless some learner ran at two temperatures or more."""
    from prefzoo.benchmarks.suites.lm.table import setting_id

    headers = ["reward learner", "labeller's T", "train labels against gold", "seeds", "held-out pair accuracy (gold)",
               "out-of-distribution pair accuracy (gold)", "Pearson with gold", "ECE (labeller's own)",
               "implied T"]
    # a property of the setting's train pairs, so any result of the setting gives it to those written
    # before results carried it
    of_setting = {setting_id(d): d.labels_against_gold for d in docs if d.labels_against_gold is not None}
    rows = []
    for name, curve in _curves(docs, labeller_temperature,
                               lambda d: [d.settings, d.data_key.split("+labeller-T")[0]]):
        for temperature, group in curve:
            implied = [d.eval.reward.implied_temperature for d in group]
            against = [d.labels_against_gold if d.labels_against_gold is not None else of_setting.get(setting_id(d))
                       for d in group]
            rows.append([name, f"{temperature:g}", "—" if None in against else f"{mean_ci(against)[0]:.0%}",
                         str(len(group)), _stat(group, "pair_accuracy"),
                         _stat(group, "pair_accuracy", part="reward_ood"),
                         *(_stat(group, key) for key in ("correlation", "ece")),
                         "—" if None in implied else f"{mean_ci(implied)[0]:.3g}"])
    return headers, rows
