"""The bandit suite's tables, plot and leaderboard section: pure functions of its result documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from prefzoo.benchmarks.harness.results import write_text_atomic
from prefzoo.benchmarks.harness.stats import mean_ci
from prefzoo.benchmarks.harness.tables import markdown_table
from prefzoo.benchmarks.suites.bandit import plot as bandit_plot
from prefzoo.benchmarks.suites.bandit.documents import (BanditResult, algorithm_of, by_config, fmt_ci, shown_arms,
                                                        strength_label)
from prefzoo.benchmarks.suites.bandit.online import OnlineBanditSettings
from prefzoo.benchmarks.suites.bandit.pairwise import DATASETS, SUITE, fixed_point
from prefzoo.benchmarks.suites.bandit.summary import closed_form_summary, strength_table


def table(docs: Sequence[BanditResult]) -> tuple[list[str], list[list[str]]]:
    """One row per (algorithm, config): final key-arm probabilities, mean ± 95% CI over seeds."""
    headers = ["algorithm", "strength", "steps", "seeds"]
    for ds in DATASETS:
        headers += [f"{ds.name} π({arm})" for arm in shown_arms(ds)]
    rows = []
    for (name, _), group in by_config([d for d in docs if d.datasets]).items():
        first = group[0]
        row = [name, strength_label(first), f"{first.settings['steps']:,}", str(len(group))]
        for ds in DATASETS:
            for arm in shown_arms(ds):
                row.append(fmt_ci([g.datasets[ds.name].final[ds.arms.index(arm)] for g in group]))
        rows.append(row)
    return headers, rows


def fixed_point_table(docs: Sequence[BanditResult]) -> tuple[list[str], list[list[str]]]:
    """Every algorithm that declares a closed form (``bandit_fixed_point``): the measured key-arm
    probability against it."""
    headers = ["algorithm", "strength", "dataset", "arm", "closed form", "measured (mean ± 95% CI)", "|error|"]
    rows = []
    for (name, _), group in by_config([d for d in docs if d.datasets]).items():
        algorithm = algorithm_of(group[0])
        for ds in DATASETS:
            expected = fixed_point(algorithm, ds) if algorithm is not None else None
            if expected is None:
                continue
            expected = expected[ds.key_arm].item()
            values = [g.datasets[ds.name].final[ds.key_arm] for g in group]
            mean, _ = mean_ci(values)
            rows.append([name, strength_label(group[0]), ds.name, ds.arms[ds.key_arm], f"{expected:.4f}",
                         fmt_ci(values), f"{abs(mean - expected):.1e}"])
    return headers, rows


def online_table(docs: Sequence[BanditResult], key: str = "online") -> tuple[list[str], list[list[str]]]:
    """One row per (online or RL algorithm, config; ``key`` picks which): mean ± 95% CI over seeds."""
    headers = ["algorithm", "strength", "rounds", "seeds", "final E_π[r]", "π(best arm)", "KL(π‖π_ref)",
               "cumulative regret", "oracle queries" if key == "online" else "reward queries", "responses sampled"]
    rows = []
    for (name, _), group in by_config([d for d in docs if getattr(d, key)]).items():
        first = group[0]
        o = [getattr(g, key) for g in group]
        rows.append([name, strength_label(first), str(first.settings["rounds"]), str(len(group)),
                     *(fmt_ci([getattr(x, k) for x in o]) for k in ("final_reward", "best_arm_prob", "kl")),
                     fmt_ci([x.regret for x in o], 1), f"{o[0].oracle_queries:,}", f"{o[0].responses_sampled:,}"])
    return headers, rows


def reward_table(docs: Sequence[BanditResult]) -> tuple[list[str], list[list[str]]]:
    """Centred RMSE of the learned reward against the truth, on rarely compared arms at each
    checkpoint epoch and on every arm at the last; mean ± 95% CI over seeds."""
    groups = by_config([d for d in docs if d.reward])
    if not groups:
        return [], []
    epochs = next(iter(groups.values()))[0].reward.epochs
    headers = ["algorithm", "config", "labels", "self-labelled (rounds)", "seeds"] + \
              [f"rare arms, epoch {e:,}" for e in epochs] + [f"all arms, epoch {epochs[-1]:,}"]
    rows = []
    by_budget = sorted(groups.items(), key=lambda kv: (-kv[1][0].settings.get("label_fraction", 1.0), kv[0]))
    for (name, _), group in by_budget:
        config = ", ".join(f"{k}={v:g}" for k, v in group[0].config.items())
        out = group[0].reward
        labels = f"{out.labelled} of {group[0].settings['comparisons']}"
        self_labelled = (f"{mean_ci([g.reward.self_labelled for g in group])[0]:.1f} "
                         f"({mean_ci([g.reward.rounds for g in group])[0]:.1f})" if out.rounds is not None else "—")
        rows.append([name, config, labels, self_labelled, str(len(group))]
                    + [fmt_ci([g.reward.error_rare[i] for g in group], 3) for i in range(len(epochs))]
                    + [fmt_ci([g.reward.error_all[-1] for g in group], 3)])
    return headers, rows


def tables(docs: Sequence[BanditResult]) -> list[tuple[str, list[str], list[list[str]]]]:
    """What the command line prints: the pairwise table and the online one, where there are rows; a
    tuned setting's rows in tables of their own."""
    out = []
    for label, group in _by_tuning(docs):
        suffix = f" ({label})" if label else ""
        out += [(SUITE + suffix, *table(group)), (f"{SUITE}-online{suffix}", *online_table(group)),
                (f"{SUITE}-rl{suffix}", *online_table(group, key="rl")),
                (f"{SUITE}-reward{suffix}", *reward_table(group))]
    return [t for t in out if t[2]]


def _by_tuning(docs: Sequence[BanditResult]) -> list[tuple[str, list[BanditResult]]]:
    """("", untuned documents) first, then ("tuned (N trials)", documents) per tuning protocol."""
    groups: dict[str, list[BanditResult]] = defaultdict(list)
    for doc in docs:
        groups[f"tuned ({doc.tuning.trials} trials)" if doc.tuning else ""].append(doc)
    return sorted(groups.items(), key=lambda kv: (kv[0] != "", kv[0]))


def tuned_section(docs: Sequence[BanditResult]) -> list[str]:
    """Markdown for tuned online, RL and reward-learning rows: how configs were selected, each part's
    table, and every candidate's validation score."""
    lines = []
    for label, group in _by_tuning(docs):
        if not label:
            continue
        t = group[0].tuning
        lines += [f"### Tuned ({t.trials} trials per algorithm)", "",
                  f"Every algorithm got the same {t.trials} trials from its declared search space (trial 1: its "
                  "defaults; then the same Sobol points for all), each run on "
                  f"{t.validation_seeds} validation seeds (numbered from {t.validation_first_seed:,}, apart "
                  "from the test seeds) and scored by its part's objective (online and RL: final E_π[r]; reward "
                  "learning: −RMSE on all arms at the last epoch); the selected config then ran on the test seeds "
                  "below. The *selection* column says how the bold trial was chosen: the best mean outright, or "
                  "(`harness.selection`) the defaults unless the best trial's gain over them, paired on the "
                  "validation seeds, exceeds 1.96 of its standard errors. The pairwise part has no objective to "
                  "select on and is not tuned.", ""]
        for title, key, part in (("Online preference optimisation", "online", online_table),
                                 ("Critic-free RL", "rl", lambda d: online_table(d, key="rl")),
                                 ("Reward learning", "reward", reward_table)):
            rows = [d for d in group if getattr(d, key)]
            if rows:
                lines += [f"{title}, selected configs on the test seeds:", "", markdown_table(*part(rows)), ""]
        lines += ["Validation scores of every trial (selected: **bold**):", "", markdown_table(*_trials_table(group)), ""]
    return lines


def _selection(t) -> str:
    """How the bold trial was chosen: the best mean outright (records before the noise rule), or the
    defaults kept unless the best trial's paired gain exceeded the validation noise."""
    if t.rule is None:
        return "best mean"
    if t.best == 0:
        return "defaults: best mean"
    if t.selected == 0:
        return f"defaults kept: trial {t.best + 1} gained {t.gain:+.4f} ≤ noise {t.noise:.4f}"
    return f"trial {t.best + 1}: gain {t.gain:+.4f} > noise {t.noise:.4f}"


def _trials_table(docs: Sequence[BanditResult]) -> tuple[list[str], list[list[str]]]:
    trials = max(d.tuning.trials for d in docs)
    headers = ["algorithm", "objective", "searched", "selection"] + [f"trial {i + 1}" for i in range(trials)]
    rows, seen = [], set()
    for doc in sorted(docs, key=lambda d: d.algorithm):
        if doc.algorithm in seen:
            continue
        seen.add(doc.algorithm)
        t = doc.tuning
        cells = []
        for i, c in enumerate(t.candidates):
            values = ", ".join(f"{k}={c.config[k]:.3g}" for k in t.space) or "defaults"
            cell = f"{c.validation_score:.4f} ({values})"
            cells.append(f"**{cell}**" if i == t.selected else cell)
        rows.append([doc.algorithm, t.objective, ", ".join(t.space) or "nothing (no search space)", _selection(t)]
                    + cells + [""] * (trials - len(cells)))
    return headers, rows


SHOWS = (
    "What this section shows, each on a bandit small enough to solve in closed form and run in seconds: "
    "the pairwise losses' fixed points against their closed forms and how each loss treats its strength "
    "with deterministic preferences (Azar et al. 2023, §5.4, D1 and D3); online preference optimisation and "
    "critic-free RL on a K-armed bandit whose best arm the reference rarely plays (regret, KL); and reward "
    "learning on long-tailed comparisons (Zhu, Jordan & Jiao 2024). Mean ± 95% CI over seeds throughout.")


def _final_probabilities_page(pairwise: Sequence[BanditResult], out_dir: Path) -> Path:
    """The generated page of every (algorithm, strength)'s final probabilities and closed forms."""
    page = out_dir / "bandit-final-probabilities.md"
    closed = fixed_point_table(pairwise)
    write_text_atomic(page, "\n".join([
        "# Bandit suite: final probabilities", "",
        "Generated by `prefzoo leaderboard` from the result files; do not edit by hand. The pairwise part of "
        "the [bandit section](README.md#bandit-suite), every (algorithm, strength): final probabilities, mean ± "
        "95% CI (Student t) over seeds.", "", markdown_table(*table(pairwise)), "",
        *(["Against the closed forms the algorithms declare, per strength:", "", markdown_table(*closed), ""]
          if closed[1] else [])]))
    return page


def section(docs: Sequence[BanditResult], out_dir: Path) -> str:
    """The suite's leaderboard section (Markdown); writes its plot into ``out_dir``."""
    untuned = [d for d in docs if not d.tuning]
    pairwise = [d for d in untuned if d.datasets]
    online = [d for d in untuned if d.online]
    rl = [d for d in untuned if d.rl]
    reward = [d for d in untuned if d.reward]
    lines = ["## Bandit suite", "", SHOWS, ""]
    if pairwise:
        figure = bandit_plot.plot(pairwise, Path(out_dir) / "bandit.png")
        page = _final_probabilities_page(pairwise, Path(out_dir))
        s = pairwise[0].settings
        walls = sorted({d.suite_wall_time_s for d in pairwise})
        lines += [
            "### Pairwise losses on three-arm bandits (Azar et al. 2023, §5.4)",
            "",
            f"Softmax policy over K arms, π_ref uniform, θ = 0 at the start; Adam lr {s['lr']}, {s['steps']:,} steps, "
            f"mini-batches of {s['batch_size']} pairs drawn with replacement, {s['seeds']} seeds (Azar et al. 2023, §5.4). "
            "Every algorithm is trained with its own `loss`, at each value of its strength field. "
            f"Training time of the pairwise suite: {', '.join(f'{w:.1f} s' for w in walls)}.",
            "",
            "Datasets: " + "; ".join(f"**{d.name}** — {d.description}" for d in DATASETS) + ".",
            "",
        ]
        closed = closed_form_summary(pairwise)
        if closed[1]:
            lines += ["The reproduction: each closed form an algorithm declares (the minimiser of its population "
                      "loss; IPO: least squares on h = 1/(2τ)) against the probability it reached, over its "
                      "strengths:", "", markdown_table(*closed), ""]
        lines += ["How each loss treats its strength: the seed-mean final probability of each dataset's key arm, "
                  "as the range over the strengths it ran at (one value where the strength did not move it). "
                  f"Every (algorithm, strength) with its interval over seeds: [{page.name}]({page.name}).", "",
                  markdown_table(*strength_table(pairwise)), "",
                  f"![bandit learning curves]({figure.name})", "",
                  "*The key arm's probability along training, per algorithm at each strength: a loss whose curves "
                  "fan out with its strength feels its regulariser.*", ""]
    if online:
        s = online[0].settings
        lines += [
            "### Online preference optimisation on a K-armed bandit",
            "",
            f"K = {s['arms']} arms with true reward r_k = k/(K−1); π_ref(k) ∝ exp(−{s['reference_decay']}·k), so "
            "the best arm has reference probability "
            f"{OnlineBanditSettings(**s).reference_logp().exp()[-1].item():.2%}; π starts at π_ref. "
            f"{s['rounds']} rounds of {s['pairs_per_round']} pairs drawn from the algorithm's samplers, labelled by "
            f"a Bradley–Terry oracle on the true reward (T = {s['label_temperature']}), then "
            f"{s['updates_per_round']} full-batch Adam steps (lr {s['lr']}) on the algorithm's own `loss`. "
            "Regret is Σ_t (max r − E_π_t[r]). Mean ± 95% CI over seeds:",
            "",
            markdown_table(*online_table(online)),
            "",
        ]
    if rl:
        s = rl[0].settings
        lines += [
            "### Critic-free RL on the same bandit",
            "",
            f"The same arms, reference and start; {s['rounds']} rounds of {s['responses_per_round']} arms sampled "
            "from π_t in groups of the algorithm's `samples_per_prompt`, each scored by its true reward (no "
            "preference labels), turned into the `Rollout` the LM loop builds (one-token responses), then "
            f"{s['updates_per_round']} full-batch Adam steps (lr {s['lr']}) on the algorithm's own "
            "`token_rewards`, `advantages` and `loss`. Algorithms with a critic (PPO) are not run on a "
            "one-state bandit. Responses are one token long, so losses that differ only in how they aggregate "
            "over a response's tokens coincide here: GSPO's sequence-level ratio is the token's own, and LUSPO's "
            "length scaling is 1, so their rows are equal; the LM suites tell them apart. Mean ± 95% CI over seeds:",
            "",
            markdown_table(*online_table(rl, key="rl")),
            "",
        ]
    if reward:
        s = reward[0].settings
        lines += [
            "### Reward learning on long-tailed comparisons (Zhu, Jordan & Jiao 2024)",
            "",
            f"K = {s['arms']} arms, true rewards evenly spaced in [−1.5, 1.5]; {s['comparisons']} comparisons per "
            f"seed between arms drawn from a Zipf law (exponent {s['zipf']}), so the last arms are compared once "
            "or twice; Bradley–Terry labels. A tabular reward starts at 0; each epoch is one full-batch "
            f"gradient step (α = {s['alpha']}) on the summed loss, then the algorithm's label update. Error: "
            f"RMSE of the centred reward against the centred truth, on the arms compared at most {s['rare_max']} "
            "times and on all arms; mean ± 95% CI over seeds. Each learner runs at every label budget (a share "
            "of each seed's comparisons labelled, the rest withheld): the label-budget curve. A semi-supervised "
            "learner (SER, Huang et al. 2024) also gets the withheld comparisons without labels and labels "
            "them itself; *self-labelled (rounds)* is the mean number it kept and the mean rounds of its kept "
            "model, which holds a fifth of its labels out to decide when to stop:",
            "",
            markdown_table(*reward_table(reward)),
            "",
        ]
    return "\n".join(lines + tuned_section(docs))
