"""Tables and figures of an LM suite, as pure functions of its result documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefzoo.benchmarks.results import save_figure_atomic
from prefzoo.benchmarks.stats import mean_ci

METRICS = ("gold_reward", "win_rate", "kl", "pair_accuracy")


def aggregate(docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (dataset, algorithm, config hash): each metric's mean and 95% interval — across seeds
    (Student t) when there are several, else the bootstrap interval over prompts of the one seed — ranked
    within each dataset by gold reward, or by held-out pair accuracy where the data have no gold reward."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for doc in docs:
        if "reward" not in doc["eval"]:  # reward models have their own table
            groups[(doc.get("dataset", doc["suite"]), doc["algorithm"], doc["hash"])].append(doc)
    rows = []
    for (dataset, name, _), group in groups.items():
        first = group[0]
        row = {"algorithm": first.get("label", name), "family": first["family"], "paper": first["paper"], "seeds": len(group),
               "config": first["config"], "profile": first["profile"], "origin": first.get("origin", ""),
               "dataset": dataset, "has_gold": first.get("has_gold", True)}
        for metric in METRICS:
            values = [d["eval"][metric] for d in group if d["eval"].get(metric) is not None]
            if not values:
                row[metric] = None
            elif len(values) == 1:
                row[metric] = {"mean": values[0]["mean"], "low": values[0]["ci_low"], "high": values[0]["ci_high"]}
            else:
                mean, half = mean_ci([v["mean"] for v in values])
                row[metric] = {"mean": mean, "low": mean - half, "high": mean + half}
        trains = [d["train"] for d in group if d.get("train")]
        row["train_time_s"] = sum(t["wall_time_s"] for t in trains) / len(trains) if trains else None
        row["tokens_per_s"] = sum(t["tokens_per_s"] for t in trains) / len(trains) if trains else None
        row["peak_memory_gib"] = max(t["peak_memory_bytes"] for t in trains) / 2**30 if trains else None
        row["generated_tokens"] = sum(d["eval"]["generated_tokens"] for d in group) // len(group)
        for cost in ("oracle_queries", "responses_sampled"):  # result files of older versions lack them
            values = [t[cost] for t in trains if cost in t]
            row[cost] = sum(values) // len(values) if values else None
        values = [t["generated_tokens"] for t in trains if "generated_tokens" in t]
        row["train_generated_tokens"] = sum(values) // len(values) if values else None
        rows.append(row)
    rows.sort(key=lambda r: (r["dataset"], -_rank_value(r)))
    return rows


def _rank_value(row: dict) -> float:
    """Gold reward where the data have one; else held-out pair accuracy (the reference, which has none, last)."""
    value = row["gold_reward"] if row["has_gold"] else row["pair_accuracy"]
    return value["mean"] if value else float("-inf")


def _ci(value: dict | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value['mean']:.{digits}f} [{value['low']:.{digits}f}, {value['high']:.{digits}f}]"


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def leaderboard_rows(docs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    entries = aggregate(docs)
    several = len({r["dataset"] for r in entries}) > 1
    headers = (["dataset"] if several else []) + [
        "rank", "algorithm", "family", "gold reward [95% CI]", "win rate vs ref", "KL(π‖π_ref)", "pair accuracy",
        "seeds", "train time (s)", "tokens/s", "peak memory (GiB)", "labels (oracle queries)",
        "responses sampled", "gen tokens (train data)", "gen tokens (eval)", "paper"]
    rows, rank, previous = [], 0, None
    for r in entries:
        rank = rank + 1 if r["dataset"] == previous else 1
        previous = r["dataset"]
        rows.append(([r["dataset"]] if several else []) + [
            str(rank), r["algorithm"], r["family"], _ci(r["gold_reward"]), _ci(r["win_rate"]), _ci(r["kl"], 2),
            _ci(r["pair_accuracy"]), str(r["seeds"]), _num(r["train_time_s"], ".0f"), _num(r["tokens_per_s"], ".0f"),
            _num(r["peak_memory_gib"], ".2f"), _num(r["oracle_queries"], ","), _num(r["responses_sampled"], ","),
            _num(r["train_generated_tokens"], ","), str(r["generated_tokens"]), r["paper"] or "—"])
    return headers, rows


def reward_model_rows(docs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per reward learner and config: its reward model against the gold reward on the held-out
    pairs (mean over seeds, with the Student-t interval when there are several)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for doc in docs:
        if "reward" in doc["eval"]:
            groups[(doc["algorithm"], doc["hash"])].append(doc)
    if not groups:
        return [], []
    headers = ["reward learner", "config", "seeds", "pairs × epochs", "held-out pair accuracy (gold)",
               "correlation with gold", "ECE", "train time (s)", "paper"]
    rows = []
    for (name, _), group in sorted(groups.items()):
        first = group[0]

        def stat(key: str) -> str:
            mean, half = mean_ci([d["eval"]["reward"][key] for d in group])
            return f"{mean:.3f}" + (f" ± {half:.3f}" if len(group) > 1 else "")

        config = ", ".join(f"{k}={v:g}" for k, v in first["config"].items())
        rows.append([name, config, str(len(group)), f"{first['train']['pairs']} × {first['train']['epochs']}",
                     stat("pair_accuracy"), stat("correlation"), stat("ece"),
                     _num(sum(d["train"]["wall_time_s"] for d in group) / len(group), ".0f"), first["paper"]])
    return headers, rows


def fit_overoptimisation(sqrt_kl: Sequence[float], reward: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares (α, β) of Gao, Schulman & Hilton 2022's RL form R(d) = d(α − β log d), d = √KL,
    fitted as R/d = α − β log d on the points with d > 0 (None with fewer than two)."""
    import torch

    points = [(d, r) for d, r in zip(sqrt_kl, reward) if d > 1e-6]
    if len(points) < 2:
        return None
    d = torch.tensor([x for x, _ in points], dtype=torch.float64)
    y = torch.tensor([r for _, r in points], dtype=torch.float64) / d
    design = torch.stack([torch.ones_like(d), -torch.log(d)], 1)
    alpha, beta = torch.linalg.lstsq(design, y[:, None]).solution[:, 0].tolist()
    return alpha, beta


def overoptimisation_plot(docs: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Per RL run: gold and proxy (reward-model) reward of the rollouts against √KL(π‖π_ref) over
    training, with the fitted R(d) = d(α − β log d) of each; None without RL runs."""
    runs = [d for d in docs if d.get("train") and d["train"].get("curve")]
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 3.6), squeeze=False)
    for ax, doc in zip(axes[0], runs):
        curve = doc["train"]["curve"]
        d = [p["sqrt_kl"] for p in curve]
        for key, colour, label in (("gold_reward", "C0", "gold (VADER)"), ("proxy_score", "C1", "proxy (reward model)")):
            r = [p[key] for p in curve]
            r0 = r[0]
            gains = [x - r0 for x in r]  # Gao et al. fit the gain over the initial policy
            ax.plot(d, gains, "o-", color=colour, label=label, lw=1)
            fit = fit_overoptimisation(d, gains)
            if fit is not None:
                grid = np.linspace(max(min(x for x in d if x > 0), 1e-3), max(d), 50)
                ax.plot(grid, grid * (fit[0] - fit[1] * np.log(grid)), "--", color=colour, lw=0.8,
                        label=f"fit α={fit[0]:.2f}, β={fit[1]:.2f}")
        ax.set_title(doc.get("label", doc["algorithm"]), fontsize=9)
        ax.set_xlabel("√KL(π ‖ π_ref)")
        ax.set_ylabel("reward gain over the first iteration")
        ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure_atomic(fig, path, dpi=100)


def reward_kl_plot(docs: Sequence[dict[str, Any]], path: Path) -> Path:
    """Gold reward against KL(π‖π_ref), with 95% intervals and the upper-left frontier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in aggregate(docs) if r["gold_reward"] is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    points = []
    for i, r in enumerate(rows):
        kl = r["kl"] or {"mean": 0.0, "low": 0.0, "high": 0.0}
        g = r["gold_reward"]
        ax.errorbar(kl["mean"], g["mean"], xerr=[[kl["mean"] - kl["low"]], [kl["high"] - kl["mean"]]],
                    yerr=[[g["mean"] - g["low"]], [g["high"] - g["mean"]]], fmt="o", color=f"C{i % 10}",
                    capsize=3, label=r["algorithm"])
        points.append((kl["mean"], g["mean"]))
    frontier, best = [], float("-inf")
    for x, y in sorted(points):
        if y > best:
            frontier.append((x, y))
            best = y
    if len(frontier) > 1:
        ax.step([x for x, _ in frontier], [y for _, y in frontier], where="post", color="grey", ls="--", lw=1,
                label="frontier")
    ax.set_xlabel("KL(π ‖ π_ref), nats per response")
    ax.set_ylabel("gold reward (VADER compound)")
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure_atomic(fig, path, dpi=100)


def section(docs: Sequence[dict[str, Any]], out_dir: Path) -> str:
    from prefzoo.leaderboard.render import markdown_table

    suite = docs[0]["suite"]
    s = docs[0]["settings"]
    d, t, m = s["data"], s["train"], s["model"]
    has_gold = all(doc.get("has_gold", True) for doc in docs)
    if has_gold:
        data = (f"{d['train_prompts']} train prompts with two reference samples each, labelled by a Bradley–Terry draw "
                f"on the gold reward (VADER compound) at temperature {d['label_temperature']}; {d['eval_prompts']} "
                "held-out prompts. Ranked by gold reward.")
    else:
        data = ("Datasets without a gold reward: gold reward and win rate cannot be measured, so the ranking uses "
                "held-out pair accuracy of each algorithm's implicit reward.")
    lines = [
        f"## {suite} (profile `{docs[0]['profile']}`)",
        "",
        f"Model `{m['model']}`, {'nf4 4-bit QLoRA' if m['quantize'] else 'LoRA'} r={m['lora_r']} α={m['lora_alpha']} "
        f"on {m['target_modules']}. {data} Every algorithm: AdamW lr {t['learning_rate']}, {t['steps']} steps of "
        f"{t['batch_size']} pairs, its Config defaults; samples ≤ {d['max_new_tokens']} new tokens, "
        f"{s['samples_per_prompt']} per held-out prompt. Intervals are 95%: bootstrap over prompts for one seed, "
        "Student t across seeds for several. Tokens/s: tokens trained on per second of training wall time (for "
        "online methods that time includes their generation and labelling). Peak memory of training: the CUDA "
        "allocator's peak, or on the CPU "
        "the peak resident memory above the level before training. Cost columns count what training consumed: "
        "an offline algorithm's labels, responses and tokens are those of the distinct pairs it read (sampled "
        "from π_ref and labelled before training); an online algorithm's are what it sampled and had labelled "
        f"during training ({s.get('online', {}).get('prompts_per_round', '?')} prompts per round, one "
        "oracle query per pair: the same Bradley–Terry labeller on the gold reward).",
        "",
        markdown_table(*leaderboard_rows(docs)),
        "",
    ]
    if has_gold:
        plot = reward_kl_plot(docs, Path(out_dir) / f"{suite}.png")
        lines += [f"![gold reward against KL]({plot.name})", ""]
    over = overoptimisation_plot(docs, Path(out_dir) / f"{suite}-overoptimisation.png")
    if over is not None:
        lines += ["### Overoptimisation (Gao, Schulman & Hilton 2022)", "",
                  "Per PPO run: gold and proxy reward of each iteration's rollouts against √KL(π‖π_ref) of "
                  "those rollouts, as gains over the first iteration, with the least-squares fit of "
                  "R(d) = d(α − β log d).", "", f"![overoptimisation]({over.name})", ""]
    reward = reward_model_rows(docs)
    if reward[1]:
        lines += ["### Reward models", "",
                  f"Each reward learner trains its own adapter and scalar head on the shared base, on the pairs the "
                  f"step budget reads, for {s.get('reward_epochs', '?')} epochs (AdamW with the learner's α); "
                  "diagnosed on the held-out pairs against the gold reward. ECE compares σ(r_w − r_l) with the "
                  "labeller's own probability σ((g_w − g_l)/T), in 10 bins.", "",
                  markdown_table(*reward), ""]
    return "\n".join(lines)
