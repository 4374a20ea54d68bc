"""The rows of an LM suite's ranked tables and the description of each setting, as pure functions of its
result documents (the section that assembles them: `section`; the figures: `figures`)."""

from __future__ import annotations

from collections.abc import Sequence

from prefzoo.benchmarks.harness.tables import ci_text, delta_text, rank_text
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.reward_report import labeller_temperature
from prefzoo.benchmarks.suites.lm.setting_names import setting_name
from prefzoo.benchmarks.suites.lm.table import aggregate, beats_reference, by_setting


def _p(value: dict | None) -> str:
    if value is None:
        return "—"
    p = value["p_holm"]
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


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
            rank_text(r.get("rank")), _marked(r), r["family"], ci_text(r["gold_reward"] if gold else r["pair_accuracy"]),
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
