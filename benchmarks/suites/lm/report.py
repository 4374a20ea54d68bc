"""The leaderboard text of an LM suite: its ranked tables, setting headers and section, as pure functions
of its result documents (the figures: `figures`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefzoo.benchmarks.harness.tables import ci_text, delta_text, markdown_table
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.figures import frontier_plot, overoptimisation_plot, reward_kl_plot
from prefzoo.benchmarks.suites.lm.reward_report import (label_budget_rows, labeller_temperature, misspecification_rows,
                                                        reward_sections)
from prefzoo.benchmarks.suites.lm.second_gold import second_gold_lines
from prefzoo.benchmarks.suites.lm.setting_names import setting_name
from prefzoo.benchmarks.suites.lm.table import aggregate, beats_reference, by_setting, setting_id, verdict
from prefzoo.benchmarks.suites.lm.matched_kl import HEADLINE_LEVEL, claim_rows, matched_kl_rows
from prefzoo.benchmarks.suites.lm.table_power import power_sentence


def _p(value: dict | None) -> str:
    if value is None:
        return "—"
    p = value["p_holm"]
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _rank(row: dict) -> str:
    if "rank" not in row:
        return "—"
    low, high = row["rank"]
    return str(low) if low == high else f"{low}–{high}"


def _marked(row: dict) -> str:
    """The algorithm's name, with ▲ when it beats the reference and ▼ when it is below it."""
    mark = {True: " ▲", False: " ▼", None: ""}[beats_reference(row)]
    return row["algorithm"] + mark


HEADLINE = ("rank [95%]", "algorithm", "family", "gold reward [95% CI]", "pair accuracy [95% CI]",
            "Δ gold vs reference [95% CI]", "Δ pair acc. vs reference [95% CI]", "p vs reference (Holm)",
            "violation rate [95% CI]", "log π/π_ref (nats)", "KL(π‖π_ref) (nats) [95% CI]", "train time (s)")
"""The columns of the ranked table a terminal shows (``prefzoo bench``); the leaderboard has them all."""


def headline_columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple[list[str], list[list[str]]]:
    """The ``HEADLINE`` columns of a ranked table, in its order."""
    keep = [i for i, h in enumerate(headers) if h in HEADLINE]
    return [headers[i] for i in keep], [[row[i] for i in keep] for row in rows]


def leaderboard_rows(docs: Sequence[LMResult], entries: list[dict] | None = None) -> tuple[list[str], list[list[str]]]:
    """The ranked table of one setting (``by_setting`` splits documents into settings); ``entries``: its
    ``aggregate``, where the caller has it already (its bootstraps are the section's costliest step)."""
    entries = aggregate(docs) if entries is None else entries
    gold = any(r["has_gold"] for r in entries)
    metric = "gold" if gold else "pair acc."
    headers = ["rank [95%]", "algorithm", "family", "gold reward [95% CI]" if gold else "pair accuracy [95% CI]",
               f"Δ {metric} vs reference [95% CI]", "p vs reference (Holm)", f"Δ {metric} vs top [95% CI]",
               "p vs top (Holm)", "win rate vs ref", "LC win rate vs ref", "length (tokens)", "log π/π_ref (nats)",
               "pair accuracy" if gold else "—",
               "seeds", "train time (s)", "tokens/s", "peak memory (GiB)", "labels (oracle queries)",
               "responses sampled", "gen tokens (train data)", "gen tokens (eval)", "paper"]
    sequence_kl = any(r.get("sequence_kl") for r in entries)
    if sequence_kl:  # results from before the KL estimator have only the log-ratio on the sampler's samples
        kl_column = headers.index("log π/π_ref (nats)") + 1  # before the two-factor columns go in
        headers.insert(kl_column, "KL(π‖π_ref) (nats) [95% CI]")
    two_factor = any(r.get("violation_rate") for r in entries)
    if two_factor:  # the second factor beside the first: its rate and its change from the reference
        headers[6:6] = ["violation rate [95% CI]", "Δ violation rate vs reference [95% CI]"]
    rows = []
    for r in entries:
        rows.append([
            _rank(r), _marked(r), r["family"], ci_text(r["gold_reward"] if gold else r["pair_accuracy"]),
            delta_text(r.get("vs_reference")), _p(r.get("vs_reference")), delta_text(r.get("vs_top")), _p(r.get("vs_top")),
            ci_text(r["win_rate"]), ci_text(r["lc_win_rate"]), _num(r["mean_length"], ".1f"), ci_text(r["kl"], 2), ci_text(r["pair_accuracy"]) if gold else "—", str(r["seeds"]),
            _num(r["train_time_s"], ",.0f"), _num(r["tokens_per_s"], ",.0f"), _num(r["peak_memory_gib"], ".2f"),
            _num(r["oracle_queries"], ","), _num(r["responses_sampled"], ","), _num(r["train_generated_tokens"], ","),
            _num(r["generated_tokens"], ","), r["paper"] or "—"])
        if sequence_kl:
            rows[-1].insert(kl_column, ci_text(r.get("sequence_kl"), 2))
        if two_factor:
            rows[-1][6:6] = [ci_text(r.get("violation_rate")), delta_text(r.get("violations_vs_reference"))]
    return headers, rows


def setting_rows(docs: Sequence[LMResult]) -> list[tuple[str, list[LMResult]]]:
    """(title, documents) per setting of a suite, in the order the leaderboard shows them; each title says
    what the setting changes against the first, the suite's main setting (``setting_names``)."""
    groups = by_setting(docs)
    return [(f"{docs[0].suite} · {setting_name(group[0], groups[0][0])}", group) for group in groups]


def _configs(doc: LMResult) -> str:
    tuning = doc.tuning
    if not tuning:
        return "each algorithm's Config defaults"
    return (f"each algorithm's config selected from {tuning.trials} trials of its search space (trial 1: its "
            f"defaults; the same draws for every algorithm), trained on seed {tuning.trial_seed} and scored by "
            f"mean gold reward on {tuning.validation_prompts} validation prompts disjoint from the held-out ones"
            + (f", keeping {tuning.rule} on those prompts (\"defaults kept\" marks a row where a trial scored higher "
               "by less)" if tuning.rule else ", the best mean selected")
            + "; the selected values are shown beside each name")


def describe_setting(doc: LMResult) -> str:
    """The header text of a setting: model, data, sampler, budget, evaluation, from a result document
    (its ``settings`` as that run wrote them)."""
    s = doc.settings
    d, t, m = s["data"], s["train"], s["model"]
    if judge := doc.data_options.get("judge"):
        pairs = (f"The preference dataset `{doc.dataset}` with the judge `{judge['spec']}` as its gold: it scores "
                 "every policy's samples, labels the online family's pairs (Bradley–Terry at the judge's temperature) "
                 "and is the gold of the RL rows, whose reward model is learned from the dataset's own pairs. "
                 "Ranked by the judge's score.")
    elif doc.has_gold and "samples_per_prompt" not in d:  # results of the earlier data scheme
        pairs = (f"{d['train_prompts']} train prompts with two reference samples each, labelled by a "
                 f"Bradley–Terry draw on the gold reward at temperature {d['label_temperature']} (gold ties by a "
                 f"coin flip); {d['eval_prompts']} held-out prompts. Ranked by gold reward.")
    elif doc.has_gold:
        relabelled = (f" (labels drawn again from the data's own draws; the data's labeller: {d['label_temperature']})"
                      if doc.labeller_temperature is not None else "")
        pairs = (f"{d['train_prompts']} train prompts with {d['samples_per_prompt']} reference samples each; "
                 "a prompt's pair is its best and worst sample by gold reward (VADER compound), labelled by a "
                 f"Bradley–Terry draw at temperature {labeller_temperature(doc)}{relabelled}, prompts whose samples "
                 f"all tie dropped; {d['eval_prompts']} held-out prompts. Ranked by gold reward.")
    else:
        pairs = ("A dataset without a gold reward: gold reward and win rate cannot be measured, so the ranking "
                 "uses held-out pair accuracy of each algorithm's implicit reward.")
    sampler = (f"temperature {d.get('temperature', 1.0)}, top-p {d.get('top_p', 1.0)}, top-k {d.get('top_k', 0)}")
    return (f"Model `{m['model']}`, {'nf4 4-bit QLoRA' if m['quantize'] else 'LoRA'} r={m['lora_r']} "
            f"α={m['lora_alpha']} on {m['target_modules']}. {pairs} Sampler (data and evaluation): {sampler}, "
            f"≤ {d['max_new_tokens']} new tokens, {s['samples_per_prompt']} per held-out prompt. Budget shared "
            f"by every algorithm: AdamW lr {t['learning_rate']:g}, {t['steps']} steps of {t['batch_size']} pairs, "
            f"warm-up {t['warmup_steps']} steps, gradient norm ≤ {t['max_grad_norm']}; {_configs(doc)}.{_labels(doc)}{_evaluation(s)}{_factors(doc)} Profile `{doc.profile}`, data key `{doc.data_key}`, engine revision "
            f"{doc.engine_revision}.")


def _factors(doc: LMResult) -> str:
    """The two-factor suite's second factor and which factor ordered the training pairs."""
    if doc.suite != "smol-two-factor":
        return ""
    order = doc.data_options["preference"]
    ordered = ("safety first (where exactly one response is safe it is preferred, else the helpfulness label "
               "decides)" if order == "safety-first" else "helpfulness alone (BFPO also reads both safety labels)")
    return (" Second factor, safety: a response that names a place, person or brand the prompt never gave (a "
            "capitalised word not starting a sentence) violates it; the violation rate is the share of a policy's "
            f"samples that do. Training pairs ordered by {ordered}.")


def _evaluation(settings: dict) -> str:
    """What the evaluation adds beyond the final samples: the KL samples and the steps along training."""
    parts = []
    if settings.get("kl_samples"):
        parts.append(f" KL(π‖π_ref) on {settings['kl_samples']} sample{'s' if settings['kl_samples'] > 1 else ''} "
                     "of π per held-out prompt at temperature 1 without truncation.")
    if settings.get("eval_at"):
        parts.append(f" Each policy also evaluated after step{'s' if len(settings['eval_at']) > 1 else ''} "
                     f"{', '.join(map(str, settings['eval_at']))}.")
    return "".join(parts)


def _labels(doc: LMResult) -> str:
    share = doc.reward_labels
    if share >= 1:
        return ""
    return (f" Label budget: reward learning (each reward learner, each RL algorithm's reward model) sees the "
            f"labels of a random {share:.0%} of the pairs it reads; a semi-supervised learner gets the rest "
            "without labels.")


STATISTICS = (
    "Intervals are 95%, from a bootstrap that resamples training seeds and held-out prompts together (with one "
    "seed: prompts only, the within-run interval). Δ columns pair each row with the reference (or the top row) "
    "on the same prompts and seeds; p is a sign-flip permutation test over prompts of the seed-averaged "
    "difference (exact up to 16 prompts, else 20,000 random sign patterns, and the test's normal approximation "
    "where none reaches the observed difference), Holm-adjusted over the rows of the table. ▲ marks a row above "
    "the reference (adjusted p < 0.05 and an interval of Δ above 0), ▼ one below it. The top row is chosen "
    "after the fact from these same numbers, so Δ vs top is biased in its favour (the winner's curse) and "
    "\"indistinguishable from the top\" is generous to the others; the rank interval, which re-ranks on every "
    "resample, is the unbiased reading. The rank interval holds the ranks a row takes in 95% of the "
    "bootstrap resamples. Win rate: the share of held-out samples whose gold reward beats the reference's "
    "sample of the same prompt and sampling seed, a tie counting one half (a share of the cells tie, mostly "
    "two samples without a sentiment word). LC win rate: the win rate controlled for length (Dubois et al. "
    "2024, Length-Controlled AlpacaEval): a judge that prefers longer answers rewards a policy for talking more, "
    "so a logistic regression of each win (a tie one half) on tanh of the standardised difference in characters "
    "between the policy's and the reference's sample is fitted, and its prediction at equal length is reported "
    "(AlpacaEval's per-instruction difficulty term, which needs many models' answers, is left out; the interval "
    "refits it on 1,000 resamples of seeds and prompts). Length: generated tokens per response. Pair accuracy: the share of held-out preference pairs that the "
    "row's implicit reward (β·log π/π_ref for the reference-based losses, the reference-free ones' own score) "
    "orders as the label does, a tie counting one half. log π/π_ref is the mean log-ratio on the policy's own "
    "samples from the sampler above "
    "(KL(π‖π_ref) itself at temperature 1 without truncation). Where a table has the KL(π‖π_ref) column, it "
    "is the KL of the untempered, untruncated policies over responses of at most the suite's length (a response "
    "cut at the cap counts as its first tokens), estimated without bias by the mean log-ratio on separate "
    "samples drawn from π at temperature 1 without truncation (the profile's `kl_samples` per held-out prompt; "
    "0 for the reference): the sampler's own samples are not samples of π, and their log-ratio is not a KL. "
    "Tokens/s: tokens trained on per second of "
    "training wall time (for online and RL methods that time includes their generation and labelling). Peak "
    "memory of training: the CUDA allocator's peak, or on the CPU the peak resident memory above the level "
    "before training. Cost columns count what training consumed: an offline algorithm's labels, responses and "
    "tokens are those of the distinct pairs it read; an online algorithm's are what it sampled and had labelled.")


MATCHED_KL = (
    "Rows at different KL(π‖π_ref) are not comparable: more KL buys more gold. Each algorithm's frontier, per "
    "seed, is the best gold it reached at KL ≤ κ over all its evaluations in this setting (along training, "
    "every config) and the reference's (KL 0): the upper envelope of its (KL, gold) points joined by straight "
    "lines, never extrapolated (\"not reached\" past its largest KL). Intervals and rank intervals as in the "
    f"ranked table, on the frontier's per-prompt gold; ranked at KL {HEADLINE_LEVEL:g}.")


def section(docs: Sequence[LMResult], out_dir: Path, suite_object) -> str:
    """The suite's leaderboard text: one subsection per setting, each with its own ranked table."""
    suite = docs[0].suite
    lines = [f"## {suite}", "", STATISTICS, ""]
    for title, group in setting_rows(docs):
        sid = setting_id(group[0])
        lines += [f"### {title}", "", f"<sub>setting `{sid}`</sub>", "", describe_setting(group[0]), ""]
        missing = missing_algorithms(group, suite_object)
        if missing:
            lines += [f"Partial: not run at this setting: {', '.join(f'`{n}`' for n in missing)}.", ""]
        rows = aggregate(group)
        lines += [verdict(rows), "", markdown_table(*leaderboard_rows(group, rows)), ""]
        power = power_sentence(rows)
        if power:
            lines += [power, ""]
        lines += second_gold_lines(group, rows, lambda g, r: headline_columns(*leaderboard_rows(g, r)))
        headers, matched, test = matched_kl_rows(group)
        if matched:
            figure = frontier_plot(group, Path(out_dir) / f"{suite}-{sid}-frontiers.png")
            lines += ["#### Gold at matched KL (Rafailov et al. 2023, §6.1)", "", MATCHED_KL, "",
                      markdown_table(headers, matched), ""] + ([test, ""] if test else []) + \
                [f"![reward–KL frontiers]({figure.name})", ""]
        headers, claim, claim_verdict = claim_rows(group)
        if claim:
            lines += ["#### DPO's frontier against PPO's (Rafailov et al. 2023, Fig. 2)", "",
                      "The paper's claim on controlled sentiment generation: DPO's reward–KL frontier dominates "
                      "PPO's. The same frontiers as above, DPO − PPO paired on seeds and prompts at each level.", "",
                      markdown_table(headers, claim), "", claim_verdict, ""]
        if all(doc.has_gold for doc in group):
            plot = reward_kl_plot(group, Path(out_dir) / f"{suite}-{sid}.png")
            lines += [f"![gold reward against log π/π_ref]({plot.name})", ""]
        over = overoptimisation_plot(group, Path(out_dir) / f"{suite}-{sid}-overoptimisation.png")
        if over is not None:
            lines += ["#### Overoptimisation (Gao, Schulman & Hilton 2022)", "",
                      "Per RL run: gold and proxy reward of each iteration's rollouts against √KL(π‖π_ref) of "
                      "those rollouts, as gains over the first iteration, with the least-squares fit of "
                      "R(d) = d(α − β log d).", "", f"![overoptimisation]({over.name})", ""]
        lines += reward_sections(group)
    curve = label_budget_rows(docs)
    if curve[1]:
        lines += ["### Reward learning against the label budget", "",
                  "The same reward learners in settings that differ only in the share of the read pairs whose "
                  "labels they see (`--labels`; `ser` also gets the rest unlabelled); held-out pairs and gold as "
                  "above, ± across seeds.", "", markdown_table(*curve), ""]
    misspecified = misspecification_rows(docs)
    if misspecified[1]:
        lines += ["### Reward learning from a misspecified labeller", "",
                  "The same reward learners in settings that differ only in the temperature of the labeller that "
                  "ordered the train pairs (`--labeller-temperature`: the same pairs and random draws, labelled "
                  "again), while every learner's settings stay those chosen for the suite's own labeller "
                  "(\"misspecification\", Chaudhari et al. 2024, §5). Train labels against gold: the share of the "
                  "train pairs whose label prefers the response with the lower gold reward. ECE against the "
                  "labeller's own probability; the implied T should follow the labeller's. Held-out pairs and gold "
                  "as above, ± across seeds.", "", markdown_table(*misspecified), ""]
    return "\n".join(lines)


def missing_algorithms(group: Sequence[LMResult], suite) -> list[str]:
    """Registered algorithms of the families this setting trains that have no row in it and that ``suite``'s
    data, as this setting ran them, can train (``suite.cannot_train``)."""
    from prefzoo.registry import ALGORITHMS

    if not group:
        return []
    present = {d.algorithm for d in group}
    families = {d.family for d in group} - {"reference"}
    options = suite.options_of(group[0])
    return sorted(n for n, cls in ALGORITHMS.load_all().items() if str(cls.family) in families and n not in present
                  and not suite.cannot_train(cls, **options))
