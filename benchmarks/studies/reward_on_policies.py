"""How each saved reward model scores the policies' own samples — the questions "RLHF Deciphered"
(Chaudhari et al. 2024, arXiv:2404.08555, §5) asks about a proxy reward once a policy optimises it:

- per-response Pearson and Spearman correlation of the reward model's score with the gold reward, on
  the reference's evaluation samples and on each policy's (95% bootstrap intervals, prompts resampled);
- the proxy-vs-gold gap of a policy: how far it moved the reward model's mean score beyond how far it
  moved the mean gold reward, each in standard deviations of the reference's samples,
  gap = (r̄_π − r̄_ref)/sd(r_ref) − (ḡ_π − ḡ_ref)/sd(g_ref). Near 0: the proxy tracked what the policy
  gained; large and positive: the policy found what the reward model over-rates (it can be exploited).

Reads the result files of one setting — a reward learner's saved model (``reward_model`` of its result)
and every policy's samples of the same seed (their texts and gold rewards are in the results) — and
prints one row per (reward model, policy): the mean over seeds with a Student-t interval over seeds (a
single seed: its bootstrap interval). Scoring runs the shared base with the reward adapter, as the RL
loop scores rollouts.

    python -m prefzoo.benchmarks.studies.reward_on_policies [--results DIR] [--setting ID] [--learners bt,ids]
        [--policies "reference,dpo,ppo (bt)"]
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from prefzoo.algorithms.engine.reward_eval import pearson, spearman

if TYPE_CHECKING:
    from prefzoo.benchmarks.suites.lm.documents import LMResult


def _prompt_draws(prompt_ids: list[int], resamples: int, seed: int) -> list[Tensor]:
    """Sample indices of ``resamples`` bootstrap draws of whole prompts (all of a prompt's samples)."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(prompt_ids):
        groups[p].append(i)
    members = list(groups.values())
    g = torch.Generator().manual_seed(seed)
    return [torch.tensor([i for k in torch.randint(len(members), (len(members),), generator=g).tolist()
                          for i in members[k]]) for _ in range(resamples)]


def _interval(values: list[float]) -> list[float]:
    v = torch.tensor(values, dtype=torch.float64)
    return [float(torch.nanquantile(v, 0.025)), float(torch.nanquantile(v, 0.975))]


def on_policy_stats(proxy: Tensor, gold: Tensor, ref_proxy: Tensor, ref_gold: Tensor, prompt_ids: list[int],
                    resamples: int = 1000, seed: int = 0) -> dict[str, float | list[float]]:
    """Correlations of one reward model's scores ``proxy`` with ``gold`` on one policy's samples, and
    that policy's proxy-vs-gold gap against the reference's samples of the same prompts (all ``(n,)``,
    sample i of both on prompt ``prompt_ids[i]``); intervals resample prompts, pairing both sides."""
    def stats(i: Tensor) -> list[float]:
        shift = lambda a, b: float((a[i].mean() - b[i].mean()) / b[i].std().clamp(min=1e-12))  # noqa: E731
        return [pearson(proxy[i], gold[i]), spearman(proxy[i], gold[i]),
                shift(proxy, ref_proxy) - shift(gold, ref_gold)]

    proxy, gold, ref_proxy, ref_gold = (t.double() for t in (proxy, gold, ref_proxy, ref_gold))
    point = stats(torch.arange(len(proxy)))
    draws = [stats(i) for i in _prompt_draws(prompt_ids, resamples, seed)]
    return {"pearson": point[0], "spearman": point[1], "gap": point[2],
            **{f"{k}_ci": _interval([d[j] for d in draws]) for j, k in enumerate(("pearson", "spearman", "gap"))}}


@torch.no_grad()
def score_samples(reward_model, tokenizer, prompts: list, prompt_ids: list[int], texts: list[str],
                  batch_size: int = 16) -> Tensor:
    """The reward model's score of each sample (its prompt ``prompts[prompt_ids[i]]``, its response
    ``texts[i]``), rendered and tokenised as a training pair's response is; ``(n,)``."""
    from prefzoo.algorithms.engine.data import TokenizationSettings, collate_sequences, tokenize_pair
    from prefzoo.algorithms.engine.models import eval_mode

    settings = TokenizationSettings()
    rows = []
    for p, text in zip(prompt_ids, texts):
        response = [{"role": "assistant", "content": text}] if isinstance(prompts[p], list) else text
        rows.append(tokenize_pair({"prompt": prompts[p], "chosen": response, "rejected": response}, tokenizer,
                                  settings, f"sample of prompt {p}"))
    device = next(reward_model.model.parameters()).device
    scores = []
    with eval_mode(reward_model.model):
        for start in range(0, len(rows), batch_size):
            part = rows[start:start + batch_size]
            batch = collate_sequences([r["prompt_ids"] for r in part], [r["chosen_ids"] for r in part],
                                      tokenizer.pad_token_id)
            scores.append(reward_model.score({k: v.to(device) for k, v in batch.items()}).float().cpu())
    return torch.cat(scores)


def learner_label(doc: LMResult) -> str:
    """A reward model's row name: its algorithm, with the config fields that differ from the defaults
    (``irl[policy=grpo]``, as an RL row names its learner), so one learner at two configs (extractions
    from two policies) is two rows."""
    from prefzoo.algorithms.framework.config import changed_fields, named_with_changes
    from prefzoo.registry import ALGORITHMS

    config = ALGORITHMS.get(doc.algorithm).Config.from_dict(doc.config)
    return named_with_changes(doc.algorithm, changed_fields(config))


def policy_results(group: list[LMResult], policies: str | None = None) -> dict[tuple[str, int], LMResult]:
    """The results of ``group`` (one setting) with evaluation samples, keyed by (row label, seed) — one
    algorithm at two configs (PPO on two reward models) is two policies — kept to the comma-separated
    labels of ``policies`` and the reference; a label the setting lacks is an error listing its labels."""
    from prefzoo.benchmarks.suites.lm.table import REFERENCE, setting_id

    found = {(d.row_name, d.seed): d for d in group if d.eval.samples and d.eval.samples.texts and not d.eval.reward}
    if not policies:
        return found
    kept, present = set(policies.split(",")) | {REFERENCE}, {name for name, _ in found}
    if kept - present:
        raise SystemExit(f"--policies {policies!r}: no policy {sorted(kept - present)} in setting "
                         f"{setting_id(group[0])}; its policies: {', '.join(sorted(present))}")
    return {key: d for key, d in found.items() if key[0] in kept}


def main(results: Path | None = None, setting: str | None = None, learners: str | None = None,
         policies: str | None = None) -> None:
    """``learners`` and ``policies``: comma-separated names to keep (a policy by its row label, as
    ``ppo (bt)``); the reference's samples are always scored, every gap is measured from them."""
    from prefzoo.algorithms.engine.models import ModelSettings, add_adapter, load_base, load_tokenizer
    from prefzoo.algorithms.engine.reward_model import RewardModel
    from prefzoo.benchmarks.suites.smol_sentiment.source import GeneratedSentiment
    from prefzoo.benchmarks.suites.lm.table import REFERENCE, by_setting, setting_id
    from prefzoo.benchmarks.harness.results import project_paths, result_files
    from prefzoo.benchmarks.suites.lm.data_settings import DataSettings
    from prefzoo.benchmarks.suites.smol_sentiment.data import SUITE
    from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite

    docs = SmolSentimentSuite().read(result_files(Path(results or project_paths()["results"]), SUITE))
    groups = [g for g in by_setting(docs) if setting is None or setting_id(g[0]) == setting]
    group = next((g for g in groups if any(d.reward_model for d in g)), None)
    if group is None:
        raise SystemExit(f"no {SUITE} setting{' ' + setting if setting else ''} has a saved reward model")
    wanted = set(learners.split(",")) if learners else None
    models = [d for d in group if d.reward_model and Path(d.reward_model).exists()
              and (wanted is None or d.algorithm in wanted)]
    policy_docs = policy_results(group, policies)
    first = group[0]
    settings = ModelSettings(**first.settings["model"])
    source = GeneratedSentiment(DataSettings(**first.settings["data"]))
    prompts = source.load(None, None, first.data_key).eval_prompts
    base = add_adapter(load_base(settings, torch.device("cpu")), settings)
    tokenizer = load_tokenizer(settings)
    print(f"setting {setting_id(first)}: {len(models)} reward models, {len(policy_docs)} policy results")
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for m in models:
        folder = Path(m.reward_model)
        reward_model = RewardModel.load(base, folder.parent, adapter=folder.name)
        scored = {}
        for (name, seed), doc in sorted(policy_docs.items()):
            if seed == m.seed:
                s = doc.eval.samples
                scored[name] = (score_samples(reward_model, tokenizer, prompts, s.prompt_ids, s.texts),
                                torch.tensor(s.rewards), s.prompt_ids)
        base.delete_adapter(folder.name)
        ref_proxy, ref_gold, ref_ids = scored[REFERENCE]
        for name, (proxy, gold, ids) in scored.items():
            if ids == ref_ids:
                rows[(learner_label(m), name)].append(on_policy_stats(proxy, gold, ref_proxy, ref_gold, ids))
    print("| reward model | policy | seeds | Pearson [95%] | Spearman [95%] | proxy − gold shift (sd) [95%] |")
    print("|---|---|---|---|---|---|")
    for (learner, name), stats in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1] != REFERENCE, kv[0][1])):
        cells = [_pooled([s[k] for s in stats], stats[0][f"{k}_ci"], correlation=k != "gap")
                 for k in ("pearson", "spearman", "gap")]
        print(f"| {learner} | {name} | {len(stats)} | " + " | ".join(cells) + " |")


def _pooled(values: list[float], one_seed_interval: list[float], correlation: bool = False) -> str:
    """Mean over seeds with a Student-t interval over seeds (each seed has its own reward model); with
    one seed, its bootstrap interval over prompts. Correlations are pooled in Fisher's z = atanh r
    (mean and interval there, mapped back by tanh), so an interval stays inside (−1, 1)."""
    from prefzoo.benchmarks.harness.stats import mean_ci

    if len(values) == 1:
        low, high = one_seed_interval
        return f"{values[0]:+.2f} [{low:+.2f}, {high:+.2f}]"
    if correlation:
        mean, half = mean_ci([math.atanh(max(-1 + 1e-9, min(1 - 1e-9, v))) for v in values])
        mean, low, high = (math.tanh(z) for z in (mean, mean - half, mean + half))
    else:
        mean, half = mean_ci(values)
        low, high = mean - half, mean + half
    return f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"


if __name__ == "__main__":
    import typer

    typer.run(main)
