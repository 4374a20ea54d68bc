"""An LM suite's section of the leaderboard: one subsection per setting — at matched KL first where the
setting has KL estimates, then its policies at the end of the budget, the figures and the reward-model
tables — and the reward-learning tables across settings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefzoo.benchmarks.harness.tables import code_list, markdown_table
from prefzoo.benchmarks.suites.lm.documents import LMResult
from prefzoo.benchmarks.suites.lm.figures import frontier_plot, overoptimisation_plot, reward_kl_plot
from prefzoo.benchmarks.suites.lm.identical_rows import identical_rows_lines
from prefzoo.benchmarks.suites.lm.matched_kl import HEADLINE_LEVEL, claim_rows, matched_kl_table, power_rows
from prefzoo.benchmarks.suites.lm.report import describe_setting, headline_columns, leaderboard_rows, setting_rows
from prefzoo.benchmarks.suites.lm.reward_report import label_budget_rows, misspecification_rows, reward_sections
from prefzoo.benchmarks.suites.lm.second_gold import second_gold_lines
from prefzoo.benchmarks.suites.lm.setting_statistics import SettingStatistics
from prefzoo.benchmarks.suites.lm.table import setting_id, verdict
from prefzoo.benchmarks.suites.lm.table_power import power_sentence

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


SUPERSEDED = (
    "**Fixed-budget protocol, superseded.** This setting has no KL(π‖π_ref) estimate, so its rows sit at "
    "different distances from π_ref and their order is not a ranking (more KL buys more gold); the suite's "
    "ranking is the matched-KL one of its main setting. Kept for what does not depend on it: each row's own "
    "gain over the reference, the reward models, reward extraction and costs.")

FINAL = (
    "Each policy at the end of the budget, wherever its KL ended: its win rate, length, pair accuracy and "
    "costs. Rows at different KL are not ranked by this table; the matched-KL table above ranks them.")

OVEROPTIMISATION = (
    "Per RL run: gold and proxy reward of each iteration's rollouts against √KL(π‖π_ref) of those rollouts, "
    "as gains over the first iteration, with the least-squares fit of R(d) = d(α − β log d).")


def section(docs: Sequence[LMResult], out_dir: Path, suite_object, statistics: SettingStatistics) -> str:
    """The suite's leaderboard text: one subsection per setting, each with its own ranked tables."""
    lines = [f"## {docs[0].suite}", "", STATISTICS, ""]
    settings = setting_rows(docs)
    frontier_protocol = bool(statistics.matched_kl(settings[0][1])[0])
    for title, group in settings:
        superseded = frontier_protocol and not statistics.matched_kl(group)[0]
        lines += _setting(title, group, Path(out_dir), suite_object, statistics, superseded)
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


def _setting(title: str, group: Sequence[LMResult], out_dir: Path, suite_object, statistics: SettingStatistics,
             superseded: bool) -> list[str]:
    suite, sid = group[0].suite, setting_id(group[0])
    lines = [f"### {title}", "", f"<sub>setting `{sid}`</sub>", "", describe_setting(group[0]), ""]
    missing = missing_algorithms(group, suite_object)
    if missing:
        lines += [f"Partial: not run at this setting: {code_list(missing)}.", ""]
    if superseded:
        lines += [SUPERSEDED, ""]
    lines += identical_rows_lines(group)
    entries, _ = statistics.matched_kl(group)
    if entries:
        figure = frontier_plot(group, out_dir / f"{suite}-{sid}-frontiers.png")
        lines += ["#### Gold at matched KL (Rafailov et al. 2023, §6.1)", "", MATCHED_KL, "",
                  markdown_table(*matched_kl_table(entries)), ""] + \
            ([power, ""] if (power := power_sentence(power_rows(group, entries))) else []) + \
            [f"![reward–KL frontiers]({figure.name})", "",
             f"*Each algorithm's frontier, the best gold reached within each KL budget, with its band over seeds "
             f"and prompts: where bands separate, one algorithm buys more gold for the same KL; read them at KL "
             f"{HEADLINE_LEVEL:g}, where the rows are ranked.*", ""]
        headers, claim, claim_verdict = claim_rows(group)
        if claim:
            lines += ["#### DPO's frontier against PPO's (Rafailov et al. 2023, Fig. 2)", "",
                      "The paper's claim on controlled sentiment generation: DPO's reward–KL frontier dominates "
                      "PPO's. The same frontiers as above, DPO − PPO paired on seeds and prompts at each level.", "",
                      markdown_table(headers, claim), "", claim_verdict, ""]
        lines += ["#### The policies at the end of the budget", "", FINAL, ""]
    rows = statistics.aggregate(group)
    lines += [verdict(rows), "", markdown_table(*leaderboard_rows(group, rows)), ""]
    power = power_sentence(rows)
    if power:
        lines += [power, ""]
    lines += second_gold_lines(group, rows, lambda g, r: headline_columns(*leaderboard_rows(g, r)))
    if all(doc.has_gold for doc in group):
        plot = reward_kl_plot(group, out_dir / f"{suite}-{sid}.png")
        lines += [f"![gold reward against log π/π_ref]({plot.name})", "",
                  "*Each row's final gold against its log-ratio to π_ref, with 95% intervals: a row up and to the "
                  "left bought its gold with less drift.*", ""]
    over = overoptimisation_plot(group, out_dir / f"{suite}-{sid}-overoptimisation.png")
    if over is not None:
        lines += ["#### Overoptimisation (Gao, Schulman & Hilton 2022)", "", OVEROPTIMISATION, "",
                  f"![overoptimisation]({over.name})", "",
                  "*One panel per run: where the proxy's fit (orange) keeps rising while the gold's (blue) bends "
                  "down, the policy is exploiting its reward model.*", ""]
    return lines + reward_sections(group)


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
