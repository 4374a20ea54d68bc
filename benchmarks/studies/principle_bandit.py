"""salmon-rm's relabelling rule on a two-factor bandit: what an instructable reward model learns from
SALMON's training data when the model's capacity is not the question.

K arms, each with a helpfulness h_k (evenly spaced in [−1.5, 1.5]) and a binary safety label; the
most helpful arms are unsafe, so the two factors disagree at the top. Each seed compares random pairs of
distinct arms, scored per principle as the smol-two-factor suite scores a pair: helpful = ±1, a
Bradley–Terry label on h (the noisy order a pair's data give), safe = I_safe(first) − I_safe(second).
salmon-rm's own ``draw`` relabels every comparison once per pass, under principles drawn for it (listed,
possibly negated; the dominant variance-normalised score decides; labels flipped at ``label_noise``), and
a tabular reward r[listing, k] — one row per distinct listing of principles, the tabular stand-in for a
model that reads the listing — is fitted with salmon-rm's own loss (Bradley–Terry) by Adam on each
listing's mean loss.

Asked about principles (their listing, none negated) the table is a reward over arms. The policy that
maximises it under a KL penalty β to a uniform π_ref, π ∝ exp(r/β) (Rafailov et al. 2023, Eq. 4), is
scored on both gold factors: its expected helpfulness and its probability of an unsafe arm, as means
over seeds with Student-t intervals.

    python -m prefzoo.benchmarks.studies.principle_bandit [--seeds 10]
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass

import torch

PRINCIPLES = ("helpful", "safe")
ASKED = (("helpful",), ("safe",), ("helpful", "safe"))
Listing = tuple[tuple[str, bool], ...]
"""A listing of principles as the reward model reads it: (name, negated) pairs, sorted."""


@dataclass(frozen=True)
class PrincipleBanditSettings:
    arms: int = 10
    unsafe: tuple[int, ...] = (3, 7, 8, 9)
    """Arms that break the safety rule (40%): the three most helpful and one in the middle."""
    comparisons: int = 1000
    passes: int = 4
    """Passes of fresh draws over the comparisons (the authors' 4)."""
    steps: int = 500
    learning_rate: float = 0.05
    beta: float = 0.25
    """β of the KL-regularised policy π ∝ exp(r/β) each asked reward yields."""
    seeds: int = 10

    def helpfulness(self) -> torch.Tensor:
        return torch.linspace(-1.5, 1.5, self.arms, dtype=torch.float64)

    def safe(self) -> torch.Tensor:
        safe = torch.ones(self.arms, dtype=torch.float64)
        safe[list(self.unsafe)] = 0.0
        return safe


def relabelled(learner, settings: PrincipleBanditSettings, seed: int) -> dict[Listing, list[tuple[int, int]]]:
    """Per listing of principles, the (preferred, other) arm pairs ``learner.draw`` made of one seed's
    comparisons over ``passes`` passes; comparisons without a preference are dropped."""
    generator = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    h, safe = settings.helpfulness(), settings.safe()
    pairs = [tuple(torch.randperm(settings.arms, generator=generator)[:2].tolist())
             for _ in range(settings.comparisons)]
    first_better = [bool(torch.rand((), generator=generator, dtype=torch.float64) < torch.sigmoid(h[i] - h[j]))
                    for i, j in pairs]
    scores = [[1.0 if better else -1.0, float(safe[i] - safe[j])] for (i, j), better in zip(pairs, first_better)]
    variances = learner.variances(scores)
    out: dict[Listing, list[tuple[int, int]]] = defaultdict(list)
    for _ in range(settings.passes):
        for (i, j), row in zip(pairs, scores):
            draw = learner.draw(row, variances, rng)
            if draw is not None:
                listing = tuple(sorted((PRINCIPLES[d], neg) for d, neg in zip(draw.principles, draw.negated)))
                out[listing].append((i, j) if draw.first_preferred else (j, i))
    return dict(out)


def fit(learner, data: dict[Listing, list[tuple[int, int]]], settings: PrincipleBanditSettings) -> dict[Listing, torch.Tensor]:
    """The tabular reward of every listing, ``(arms,)`` each, centred: Adam on the sum over listings of
    each listing's mean ``learner.loss`` (each distinct (listing, preferred, other) once, weighted by its
    count)."""
    listings = sorted(data)
    rewards = torch.zeros(len(listings), settings.arms, dtype=torch.float64, requires_grad=True)
    counts = Counter((n, *pair) for n, key in enumerate(listings) for pair in data[key])
    row, chosen, rejected = (torch.tensor([triple[i] for triple in counts]) for i in (0, 1, 2))
    weight = torch.tensor([c / len(data[listings[n]]) for (n, _, _), c in counts.items()], dtype=torch.float64)
    optimizer = torch.optim.Adam([rewards], lr=settings.learning_rate)
    ones = torch.ones(len(row), dtype=torch.float64)
    for _ in range(settings.steps):
        optimizer.zero_grad()
        loss = (learner.loss(rewards[row, chosen], rewards[row, rejected], ones).losses * weight).sum()
        loss.backward()
        optimizer.step()
    fitted = rewards.detach()
    return {key: fitted[n] - fitted[n].mean() for n, key in enumerate(listings)}


def asked_policy(table: dict[Listing, torch.Tensor], asked: tuple[str, ...], beta: float) -> torch.Tensor:
    """π ∝ exp(r/β) over arms for the reward asked about ``asked`` (listed, none negated), ``(arms,)``."""
    listing = tuple(sorted((name, False) for name in asked))
    if listing not in table:
        raise ValueError(f"no comparison was drawn under {', '.join(asked)}: more comparisons or passes")
    return torch.softmax(table[listing] / beta, dim=0)


def run(learner, settings: PrincipleBanditSettings = PrincipleBanditSettings()) -> dict[str, dict[str, list[float]]]:
    """Per asked principle setting: the gold helpfulness E_π[h] and violation rate P_π(unsafe) of its
    policy, one value per seed."""
    h, unsafe = settings.helpfulness(), 1.0 - settings.safe()
    out = {",".join(a): {"helpfulness": [], "violation": []} for a in ASKED}
    for seed in range(settings.seeds):
        table = fit(learner, relabelled(learner, settings, seed), settings)
        for asked in ASKED:
            policy = asked_policy(table, asked, settings.beta)
            out[",".join(asked)]["helpfulness"].append(float(policy @ h))
            out[",".join(asked)]["violation"].append(float(policy @ unsafe))
    return out


def main(seeds: int = 10, negation: float = 0.5) -> None:
    from prefzoo.benchmarks.harness.stats import mean_ci
    from prefzoo.registry import ALGORITHMS

    salmon = ALGORITHMS.get("salmon-rm")
    settings = PrincipleBanditSettings(seeds=seeds)
    results = run(salmon(salmon.Config(negation=negation)), settings)
    h, safe = settings.helpfulness(), settings.safe()
    print(f"{settings.arms} arms, unsafe {list(settings.unsafe)}; best safe arm: helpfulness "
          f"{float(h[safe.bool()].max()):.3f}; most helpful arm: {float(h.max()):.3f} (unsafe)")
    print("| asked | gold helpfulness E_π[h] [95%] | violation rate P_π(unsafe) [95%] |")
    print("|---|---|---|")
    for asked, values in results.items():
        cells = []
        for key in ("helpfulness", "violation"):
            mean, half = mean_ci(values[key])
            cells.append(f"{mean:.3f} [{mean - half:.3f}, {mean + half:.3f}]")
        print(f"| {asked} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    import typer

    typer.run(main)
