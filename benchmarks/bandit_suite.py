"""The bandit suite as the harness and the leaderboard see it: runs, result files, tables, plot."""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefzoo import __version__
from prefzoo.algorithms.base import Algorithm, Family
from prefzoo.algorithms.config import AlgorithmConfig
from prefzoo.benchmarks.bandit import DATASETS, SUITE, BanditSettings, fixed_point, run_bandit, sweep_configs
from prefzoo.benchmarks.online_bandit import OnlineBanditSettings, run_online_bandit
from prefzoo.benchmarks.rl_bandit import RLBanditSettings, run_rl_bandit
from prefzoo.benchmarks.reward_bandit import RewardBanditSettings, run_reward_bandit
from prefzoo.benchmarks.results import result_path, run_hash, save_figure_atomic, write_json_atomic
from prefzoo.benchmarks.stats import mean_ci
from prefzoo.leaderboard.render import markdown_table

DATASET_BY_NAME = {d.name: d for d in DATASETS}


class BanditSuite:
    """Azar et al. 2023 §5.4 and the IPO closed form for every pairwise algorithm; the online
    K-armed bandit (``online_bandit``) for every online-preference algorithm."""

    name = SUITE
    families = (Family.PAIRWISE, Family.ONLINE, Family.REWARD, Family.RL)

    def run(self, algorithms: Sequence[type[Algorithm]], results_root: Path, *, seeds: int | None = None,
            steps: int | None = None, strengths: Sequence[float] | None = None,
            base_configs: dict[str, AlgorithmConfig] | None = None,
            progress: Callable[[int, int], None] | None = None,
            log: Callable[[str], None] = print) -> list[dict[str, Any]]:
        """Train, write one result file per (algorithm, config, seed), and return the documents."""
        settings = BanditSettings()
        changes = {k: v for k, v in dict(seeds=seeds, steps=steps,
                                          strengths=tuple(strengths) if strengths else None).items() if v}
        settings = BanditSettings(**{**settings.__dict__, **changes})
        for cls in algorithms:
            if cls.family not in self.families:
                raise ValueError(f"the bandit suite does not train {cls.family} algorithms ({cls.name!r})")
        by_family = {f: [c for c in algorithms if c.family == f] for f in self.families}
        pairwise, online = by_family[Family.PAIRWISE], by_family[Family.ONLINE]
        docs = self._run_pairwise(pairwise, settings, results_root, base_configs, progress) if pairwise else []
        if online:
            online_settings = dataclasses.replace(OnlineBanditSettings(), seeds=settings.seeds)
            docs += self._run_online(online, settings.strengths, online_settings, results_root, base_configs)
        rl = [c for c in by_family[Family.RL] if not c.uses_critic]
        for cls in by_family[Family.RL]:
            if cls.uses_critic:
                log(f"{cls.name}: not run on the bandit (it learns a critic; the bandit has one state)")
        if rl:
            rl_settings = dataclasses.replace(RLBanditSettings(), seeds=settings.seeds)
            docs += self._run_rl(rl, settings.strengths, rl_settings, results_root, base_configs)
        reward = by_family[Family.REWARD]
        if reward:
            reward_settings = dataclasses.replace(RewardBanditSettings(), seeds=settings.seeds)
            docs += self._run_reward(reward, reward_settings, results_root, base_configs)
        return docs

    def _run_reward(self, algorithms, settings: RewardBanditSettings, results_root: Path,
                    base_configs) -> list[dict[str, Any]]:
        docs = []
        for cls, config in ((c, k) for c in algorithms
                            for k in sweep_configs(c, settings.strengths, (base_configs or {}).get(c.name))):
            start = time.perf_counter()
            run = run_reward_bandit(cls, config, settings)
            wall = time.perf_counter() - start
            digest = run_hash(run.config.to_dict(), settings.to_dict())
            for seed in range(settings.seeds):
                doc = {
                    **_identity(cls, run.config, seed, digest), "settings": settings.to_dict(),
                    "suite_wall_time_s": round(wall, 2),
                    "reward": {
                        "epochs": run.epochs,
                        "error_all": _rounded(run.error_all[:, seed].tolist()),
                        "error_rare": _rounded(run.error_rare[:, seed].tolist()),
                        "rewards": _rounded(run.rewards[seed].tolist()),
                        "counts": [int(c) for c in run.counts[seed].tolist()],
                    },
                }
                write_json_atomic(result_path(results_root, SUITE, cls.name, seed, digest), doc)
                docs.append(doc)
        return docs

    def reward_table(self, docs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
        """Centred RMSE of the learned reward against the truth, on rarely compared arms at each
        checkpoint epoch and on every arm at the last; mean ± 95% CI over seeds."""
        groups = _by_config([d for d in docs if "reward" in d])
        if not groups:
            return [], []
        epochs = next(iter(groups.values()))[0]["reward"]["epochs"]
        headers = ["algorithm", "config", "seeds"] + [f"rare arms, epoch {e:,}" for e in epochs] + \
                  [f"all arms, epoch {epochs[-1]:,}"]
        rows = []
        for (name, _), group in groups.items():
            config = ", ".join(f"{k}={v:g}" for k, v in group[0]["config"].items())
            rows.append([name, config, str(len(group))]
                        + [_fmt_ci([g["reward"]["error_rare"][i] for g in group], 3) for i in range(len(epochs))]
                        + [_fmt_ci([g["reward"]["error_all"][-1] for g in group], 3)])
        return headers, rows

    def _run_pairwise(self, algorithms, settings: BanditSettings, results_root: Path, base_configs,
                      progress) -> list[dict[str, Any]]:
        start = time.perf_counter()
        runs = run_bandit(algorithms, settings, progress=progress, base_configs=base_configs)
        wall = time.perf_counter() - start
        docs = []
        for run in runs:
            cls, config = run.algorithm, run.config
            digest = run_hash(config.to_dict(), settings.to_dict())
            for seed in range(settings.seeds):
                doc = {
                    **_identity(cls, config, seed, digest), "settings": settings.to_dict(),
                    "vectorised": run.vectorised, "suite_wall_time_s": round(wall, 2), "steps": run.steps,
                    "datasets": {
                        ds.name: {
                            "arms": list(ds.arms),
                            "final": _rounded(run.final()[d, seed, :len(ds.arms)].tolist()),
                            "curve": [_rounded(p[d, seed, :len(ds.arms)].tolist()) for p in run.curves],
                        } for d, ds in enumerate(DATASETS)},
                }
                write_json_atomic(result_path(results_root, SUITE, cls.name, seed, digest), doc)
                docs.append(doc)
        return docs

    def _run_online(self, algorithms, strengths, settings: OnlineBanditSettings, results_root: Path,
                    base_configs) -> list[dict[str, Any]]:
        docs = []
        for cls in algorithms:
            for config in sweep_configs(cls, strengths, (base_configs or {}).get(cls.name)):
                start = time.perf_counter()
                run = run_online_bandit(cls, config, settings)
                wall = time.perf_counter() - start
                digest = run_hash(config.to_dict(), settings.to_dict())
                for seed in range(settings.seeds):
                    doc = {
                        **_identity(cls, config, seed, digest), "settings": settings.to_dict(),
                        "suite_wall_time_s": round(wall, 2),
                        "online": {
                            "final_reward": round(run.final_reward[seed].item(), 6),
                            "best_arm_prob": round(run.best_arm_prob[seed].item(), 6),
                            "kl": round(run.kl[seed].item(), 6), "regret": round(run.regret[seed].item(), 4),
                            "oracle_queries": run.oracle_queries // settings.seeds,
                            "responses_sampled": run.responses_sampled // settings.seeds,
                            "dataset_pairs": run.dataset_sizes[-1],
                            "curve_rounds": run.curve_rounds,
                            "curve": _rounded(run.curve[:, seed].tolist()),
                        },
                    }
                    write_json_atomic(result_path(results_root, SUITE, cls.name, seed, digest), doc)
                    docs.append(doc)
        return docs

    def _run_rl(self, algorithms, strengths, settings: RLBanditSettings, results_root: Path,
                base_configs) -> list[dict[str, Any]]:
        docs = []
        for cls in algorithms:
            for config in sweep_configs(cls, strengths, (base_configs or {}).get(cls.name)):
                start = time.perf_counter()
                run = run_rl_bandit(cls, config, settings)
                wall = time.perf_counter() - start
                digest = run_hash(config.to_dict(), settings.to_dict())
                for seed in range(settings.seeds):
                    doc = {
                        **_identity(cls, config, seed, digest), "settings": settings.to_dict(),
                        "suite_wall_time_s": round(wall, 2),
                        "rl": {
                            "final_reward": round(run.final_reward[seed].item(), 6),
                            "best_arm_prob": round(run.best_arm_prob[seed].item(), 6),
                            "kl": round(run.kl[seed].item(), 6), "regret": round(run.regret[seed].item(), 4),
                            "oracle_queries": run.reward_queries, "responses_sampled": run.reward_queries,
                            "curve_rounds": run.curve_rounds, "curve": _rounded(run.curve[:, seed].tolist()),
                        },
                    }
                    write_json_atomic(result_path(results_root, SUITE, cls.name, seed, digest), doc)
                    docs.append(doc)
        return docs

    def tables(self, docs: Sequence[dict[str, Any]]) -> list[tuple[str, list[str], list[list[str]]]]:
        """What the command line prints: the pairwise table and the online one, where there are rows."""
        out = [(SUITE, *self.table(docs)), (f"{SUITE}-online", *self.online_table(docs)),
               (f"{SUITE}-rl", *self.online_table(docs, key="rl")), (f"{SUITE}-reward", *self.reward_table(docs))]
        return [t for t in out if t[2]]

    def online_table(self, docs: Sequence[dict[str, Any]], key: str = "online") -> tuple[list[str], list[list[str]]]:
        """One row per (online or RL algorithm, config; ``key`` picks which): mean ± 95% CI over seeds."""
        headers = ["algorithm", "strength", "rounds", "seeds", "final E_π[r]", "π(best arm)", "KL(π‖π_ref)",
                   "cumulative regret", "oracle queries" if key == "online" else "reward queries", "responses sampled"]
        rows = []
        for (name, _), group in _by_config([d for d in docs if key in d]).items():
            first = group[0]
            o = [g[key] for g in group]
            rows.append([name, _strength_label(first), str(first["settings"]["rounds"]), str(len(group)),
                         *(_fmt_ci([x[k] for x in o]) for k in ("final_reward", "best_arm_prob", "kl")),
                         _fmt_ci([x["regret"] for x in o], 1), f"{o[0]['oracle_queries']:,}",
                         f"{o[0]['responses_sampled']:,}"])
        return headers, rows

    # ------------------------------------------------------------------ tables
    def table(self, docs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
        """One row per (algorithm, config): final key-arm probabilities, mean ± 95% CI over seeds."""
        headers = ["algorithm", "strength", "steps", "seeds"]
        for ds in DATASETS:
            headers += [f"{ds.name} π({arm})" for arm in _shown_arms(ds)]
        rows = []
        for (name, _), group in _by_config([d for d in docs if "datasets" in d]).items():
            first = group[0]
            row = [name, _strength_label(first), f"{first['settings']['steps']:,}", str(len(group))]
            for ds in DATASETS:
                for arm in _shown_arms(ds):
                    row.append(_fmt_ci([g["datasets"][ds.name]["final"][ds.arms.index(arm)] for g in group]))
            rows.append(row)
        return headers, rows

    def fixed_point_table(self, docs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
        """Every algorithm that declares a closed form (``bandit_fixed_point``): the measured key-arm
        probability against it."""
        headers = ["algorithm", "strength", "dataset", "arm", "closed form", "measured (mean ± 95% CI)", "|error|"]
        rows = []
        for (name, _), group in _by_config([d for d in docs if "datasets" in d]).items():
            algorithm = _algorithm(group[0])
            for ds in DATASETS:
                expected = fixed_point(algorithm, ds) if algorithm is not None else None
                if expected is None:
                    continue
                expected = expected[ds.key_arm].item()
                values = [g["datasets"][ds.name]["final"][ds.key_arm] for g in group]
                mean, _ = mean_ci(values)
                rows.append([name, _strength_label(group[0]), ds.name, ds.arms[ds.key_arm], f"{expected:.4f}",
                             _fmt_ci(values), f"{abs(mean - expected):.1e}"])
        return headers, rows

    # ------------------------------------------------------------------ plot
    def plot(self, docs: Sequence[dict[str, Any]], path: Path) -> Path | None:
        """Key-arm probability against steps: a row per dataset, a column per algorithm, a line per
        strength (mean over seeds, shaded 95% CI); None without pairwise runs."""
        if not any("datasets" in d for d in docs):
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        groups = _by_config([d for d in docs if "datasets" in d])
        algorithms = sorted({name for name, _ in groups})
        fig, axes = plt.subplots(len(DATASETS), len(algorithms), figsize=(2.9 * len(algorithms), 2.3 * len(DATASETS)),
                                 sharex=True, sharey=True, squeeze=False)
        for col, name in enumerate(algorithms):
            configs = [(key, g) for key, g in groups.items() if key[0] == name]
            for row, ds in enumerate(DATASETS):
                ax = axes[row][col]
                for i, (_, group) in enumerate(configs):
                    steps = group[0]["steps"]
                    stats = [mean_ci([g["datasets"][ds.name]["curve"][t][ds.key_arm] for g in group])
                             for t in range(len(steps))]
                    mean = [m for m, _ in stats]
                    ax.plot(steps, mean, color=f"C{i}", lw=1.3, label=_strength_label(group[0]))
                    ax.fill_between(steps, [m - h for m, h in stats], [m + h for m, h in stats],
                                    color=f"C{i}", alpha=0.2, lw=0)
                for i, (_, group) in enumerate(configs):
                    algorithm = _algorithm(group[0])
                    expected = fixed_point(algorithm, ds) if algorithm is not None else None
                    if expected is not None:
                        ax.axhline(expected[ds.key_arm].item(), color=f"C{i}", ls=":", lw=1)
                ax.set_xscale("symlog", linthresh=10)
                ax.set_ylim(-0.03, 1.03)
                if row == 0:
                    ax.set_title(name, fontsize=10)
                if col == 0:
                    ax.set_ylabel(f"{ds.name}\nπ({ds.arms[ds.key_arm]})", fontsize=9)
                if row == len(DATASETS) - 1:
                    ax.set_xlabel("step", fontsize=9)
                ax.tick_params(labelsize=7)
            axes[0][col].legend(fontsize=6, loc="best")
        fig.suptitle("Bandit suite: key-arm probability (mean, 95% CI over seeds; dotted: IPO's fixed point)",
                     fontsize=10)
        fig.tight_layout()
        return save_figure_atomic(fig, path, dpi=90)

    # ------------------------------------------------------------------ leaderboard
    def section(self, docs: Sequence[dict[str, Any]], out_dir: Path) -> str:
        """The suite's leaderboard section (Markdown); writes its plot into ``out_dir``."""
        pairwise = [d for d in docs if "datasets" in d]
        online = [d for d in docs if "online" in d]
        rl = [d for d in docs if "rl" in d]
        reward = [d for d in docs if "reward" in d]
        lines = ["## Bandit suite", ""]
        if pairwise:
            plot = self.plot(pairwise, Path(out_dir) / "bandit.png")
            s = pairwise[0]["settings"]
            walls = sorted({d["suite_wall_time_s"] for d in pairwise})
            lines += [
                f"Softmax policy over K arms, π_ref uniform, θ = 0 at the start; Adam lr {s['lr']}, {s['steps']:,} steps, "
                f"mini-batches of {s['batch_size']} pairs drawn with replacement, {s['seeds']} seeds (Azar et al. 2023, §5.4). "
                "Every algorithm is trained with its own `loss`, at each value of its strength field. "
                f"Training time of the pairwise suite: {', '.join(f'{w:.1f} s' for w in walls)}.",
                "",
                "Datasets: " + "; ".join(f"**{d.name}** — {d.description}" for d in DATASETS) + ".",
                "",
                "Final probabilities, mean ± 95% CI (Student t) over seeds:",
                "",
                markdown_table(*self.table(pairwise)),
                "",
            ]
            closed = self.fixed_point_table(pairwise)
            if closed[1]:
                lines += ["Against the closed forms the algorithms declare (the minimiser of the population loss; "
                          "IPO: least squares on h = 1/(2τ)):", "", markdown_table(*closed), ""]
            lines += [f"![bandit learning curves]({plot.name})", ""]
        if online:
            s = online[0]["settings"]
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
                markdown_table(*self.online_table(online)),
                "",
            ]
        if rl:
            s = rl[0]["settings"]
            lines += [
                "### Critic-free RL on the same bandit",
                "",
                f"The same arms, reference and start; {s['rounds']} rounds of {s['responses_per_round']} arms sampled "
                "from π_t in groups of the algorithm's `samples_per_prompt`, each scored by its true reward (no "
                "preference labels), turned into the `Rollout` the LM loop builds (one-token responses), then "
                f"{s['updates_per_round']} full-batch Adam steps (lr {s['lr']}) on the algorithm's own "
                "`token_rewards`, `advantages` and `loss`. Algorithms with a critic (PPO) are not run on a "
                "one-state bandit. Mean ± 95% CI over seeds:",
                "",
                markdown_table(*self.online_table(rl, key="rl")),
                "",
            ]
        if reward:
            s = reward[0]["settings"]
            lines += [
                "### Reward learning on long-tailed comparisons (Zhu, Jordan & Jiao 2024)",
                "",
                f"K = {s['arms']} arms, true rewards evenly spaced in [−1.5, 1.5]; {s['comparisons']} comparisons per "
                f"seed between arms drawn from a Zipf law (exponent {s['zipf']}), so the last arms are compared once "
                "or twice; Bradley–Terry labels. A tabular reward starts at 0; each epoch is one full-batch "
                f"gradient step (α = {s['alpha']}) on the summed loss, then the algorithm's label update. Error: "
                f"RMSE of the centred reward against the centred truth, on the arms compared at most {s['rare_max']} "
                "times and on all arms; mean ± 95% CI over seeds:",
                "",
                markdown_table(*self.reward_table(reward)),
                "",
            ]
        return "\n".join(lines)


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(v, 6) for v in values]


def _shown_arms(ds) -> list[str]:
    return list(ds.arms) if ds.show_all_arms else [ds.arms[ds.key_arm]]


def _algorithm(doc: dict[str, Any]):
    """The algorithm a result document ran, rebuilt from its config; None if it is no longer registered."""
    from prefzoo.registry import ALGORITHMS, RegistryError

    try:
        cls = ALGORITHMS.get(doc["algorithm"])
        return cls(cls.Config.from_dict(doc["config"]))
    except (RegistryError, ValueError):
        return None


def _by_config(docs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for doc in sorted(docs, key=lambda d: (d["algorithm"], _strength_value(d), d["hash"], d["seed"])):
        groups[(doc["algorithm"], doc["hash"])].append(doc)
    return dict(groups)


def _strength_value(doc: dict[str, Any]) -> float:
    return doc["strength"]["value"] if doc["strength"] else 0.0


def _strength_label(doc: dict[str, Any]) -> str:
    greek = {"beta": "β", "tau": "τ"}
    st = doc["strength"]
    return f"{greek.get(st['field'], st['field'])}={st['value']:g}" if st else "default"


def _fmt_ci(values: Sequence[float], digits: int = 4) -> str:
    mean, half = mean_ci(values)
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def _identity(cls, config: AlgorithmConfig, seed: int, digest: str) -> dict[str, Any]:
    from prefzoo.registry import ALGORITHMS

    field = cls.Config.strength
    return {"suite": SUITE, "algorithm": cls.name, "family": str(cls.family), "paper": cls.paper,
            "origin": ALGORITHMS.origin(cls.name) if cls.name in ALGORITHMS else cls.__module__,
            "seed": seed, "hash": digest, "config": config.to_dict(),
            "strength": {"field": field, "value": getattr(config, field)} if field else None,
            "prefzoo_version": __version__}
