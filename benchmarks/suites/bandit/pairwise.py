"""The bandit suite: pairwise losses on a tabular policy, where their mathematics can be checked.

Policy π = softmax(θ) over K arms (θ ∈ R^K, one "response" per arm, |y| = 1), reference π_ref uniform.
Every pairwise algorithm is trained with its own ``loss`` — the code the LM engine calls — on four
preference datasets, after Azar et al. 2023 (IPO), §5.4: Adam, lr 0.01, 18,000 steps, mini-batches
of 9 pairs drawn with replacement, 10 seeds, θ = 0 (π = π_ref) at the start.

Everything runs as one tensor program: θ has shape (configs, datasets, seeds, K), covering every
algorithm, every value of its ``strength`` field, every dataset and seed. A mini-batch's mean loss is
computed as Σ_p (n_p / 9)·ℓ_p over the dataset's distinct pairs, n_p the multinomial count of pair p,
which equals the mean over the 9 draws. Seeds share their mini-batch draws across algorithms
(common random numbers), so differences between algorithms are not sampling noise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from prefzoo.algorithms.framework.base import PairLogps, Pairwise
from prefzoo.algorithms.framework.config import AlgorithmConfig, ConfigSweep

SUITE = "bandit"


@dataclass(frozen=True)
class BanditDataset:
    """Preference pairs over named arms; ``pairs`` holds (chosen, rejected) arm indices."""

    name: str
    arms: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...]
    description: str
    key_arm: int
    """The arm whose probability tells the dataset's story (reported first and plotted)."""
    show_all_arms: bool = False
    """Tabulate every arm's probability, not only the key arm's."""
    safe: tuple[bool, ...] | None = None
    """Each arm's binary safety label, for two-factor losses (BFPO); None: every arm is safe, as a
    single-factor dataset is labelled (the BFPO authors do the same for UltraFeedback)."""

    def safety(self) -> tuple[bool, ...]:
        return self.safe if self.safe is not None else (True,) * len(self.arms)


DATASETS: tuple[BanditDataset, ...] = (
    BanditDataset("two-arm", ("y1", "y2"), ((0, 1),),
                  "y1 always preferred; IPO's fixed point is π(y1) = σ(1/(2τ))", 0),
    BanditDataset("D1", ("a", "b", "c"), ((0, 1), (1, 2), (0, 2)),
                  "Azar et al. §5.4 D1 = {(a,b), (b,c), (a,c)}: a total order, every pair observed", 0, True),
    BanditDataset("D3-printed", ("a", "b", "c"), ((0, 1), (1, 0)),
                  "§5.4's D3 as printed, {(a,b), (b,a)}: c is never compared", 2),
    BanditDataset("D3-text", ("a", "b", "c"), ((0, 1), (1, 2)),
                  "{(a,b), (b,c)}: c never wins and (a,c) is unobserved, as §5.4's text describes", 2),
)
TWO_FACTOR = BanditDataset(
    "two-factor", ("helpful-unsafe", "helpful-safe", "unhelpful-safe", "unhelpful-unsafe"),
    ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)),
    "four arms in decreasing helpfulness, every pair ordered by helpfulness; arms 0 and 3 unsafe. BFPO's "
    "ranking (Zhang et al. 2024, Fig. 2) is helpful-safe ≻ unhelpful-safe ≻ unhelpful-unsafe ≻ helpful-unsafe",
    0, True, (False, True, True, False))
"""A two-factor bandit (not in ``DATASETS``): where helpfulness labels and BFPO's ranking disagree."""


@dataclass(frozen=True)
class BanditSettings:
    """The budget every algorithm gets (Azar et al. §5.4 unless noted)."""

    steps: int = 18_000
    lr: float = 0.01
    batch_size: int = 9
    seeds: int = 10
    strengths: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0)
    """Values of each algorithm's ``Config.strength`` field (β for DPO, τ for IPO); the paper's τ grid."""
    records: int = 24
    """Policies recorded along the way (half log-spaced, half evenly spaced), for the learning curves."""
    base_seed: int = 0
    first_seed: int = 0
    """The number of the first seed (seeds run from it on); seed s draws the same numbers in any run, so
    it is not part of the settings' hash."""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        del d["first_seed"]
        d["strengths"] = list(self.strengths)
        d["datasets"] = {ds.name: [list(p) for p in ds.pairs] for ds in DATASETS}
        return d


@dataclass
class BanditRun:
    """One (algorithm, config) across all seeds: ``curves`` is (records, datasets, seeds, K) of π, the
    last record being the final policy; ``steps`` the step number of each record."""

    algorithm: type[Pairwise]
    config: AlgorithmConfig
    steps: list[int]
    curves: torch.Tensor
    vectorised: bool

    def final(self) -> torch.Tensor:
        """Final π, (datasets, seeds, K)."""
        return self.curves[-1]


def sweep_configs(cls: type[Pairwise], strengths: Sequence[float],
                  base: AlgorithmConfig | None = None) -> list[AlgorithmConfig]:
    """``base`` (default: the algorithm's defaults) at each strength, or ``base`` alone if the
    algorithm declares no strength field."""
    base = base or cls.Config()
    field = cls.Config.strength
    if field is None:
        return [base]
    return [dataclasses.replace(base, **{field: float(s)}) for s in strengths]


def _padded(datasets: Sequence[BanditDataset]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """chosen/rejected arm indices (D, P), arm mask (D, K) of 0/−inf, pair counts (D,), K."""
    K = max(len(d.arms) for d in datasets)
    P = max(len(d.pairs) for d in datasets)
    # Padding repeats a real pair: it gets weight 0 but its loss stays finite (0·inf would be NaN).
    pairs = [list(d.pairs) + [d.pairs[0]] * (P - len(d.pairs)) for d in datasets]
    idx = torch.tensor(pairs)
    mask = torch.tensor([[0.0] * len(d.arms) + [-math.inf] * (K - len(d.arms)) for d in datasets])
    return idx[..., 0], idx[..., 1], mask, torch.tensor([len(d.pairs) for d in datasets]), K


def _pair_safety(datasets: Sequence[BanditDataset], chosen: torch.Tensor, rejected: torch.Tensor,
                 K: int) -> tuple[torch.Tensor, torch.Tensor]:
    """1.0 / 0.0 safety labels of each pair's chosen and rejected arm, (D, P) each; K as ``_padded``'s."""
    labels = torch.tensor([list(d.safety()) + [True] * (K - len(d.arms)) for d in datasets], dtype=torch.float32)
    return labels.gather(1, chosen), labels.gather(1, rejected)


def _pair_weights(n_pairs: torch.Tensor, seeds: int, steps: int, batch: int, P: int, base_seed: int,
                  start: int, first_seed: int = 0) -> torch.Tensor:
    """Mini-batch weights n_p/batch for ``steps`` steps from ``start``: (steps, D, S, P), for seeds
    ``first_seed`` … ``first_seed + S − 1``.

    Seed s draws from its own generator, seeded by (base_seed, s, start), so a seed's draws do not
    depend on how many seeds or algorithms run beside it.
    """
    D = n_pairs.numel()
    out = torch.empty(steps, D, seeds, P)
    for i in range(seeds):
        g = torch.Generator().manual_seed(hash((base_seed, first_seed + i, start)) & 0x7FFF_FFFF)
        draws = (torch.rand(steps, D, batch, generator=g) * n_pairs.view(1, D, 1)).long()
        out[:, :, i] = F.one_hot(draws, P).sum(-2).float() / batch
    return out


def _loss_fn(cls: type[Pairwise], configs: list[AlgorithmConfig], shape: tuple[int, ...]) \
        -> tuple[Callable[[PairLogps], torch.Tensor], bool]:
    """A function from a (C, *shape) batch to (C, *shape) losses, vectorised over configs when the
    algorithm's loss broadcasts over a :class:`ConfigSweep` (checked against one call per config on a
    random batch), else one call per config."""
    singles = [cls(c) for c in configs]

    def looped(b: PairLogps) -> torch.Tensor:
        return torch.stack([a(_take(b, i)).losses for i, a in enumerate(singles)])

    if len(configs) == 1:
        return looped, True
    vectorised = cls(ConfigSweep(configs, trailing_dims=len(shape)))
    probe_gen = torch.Generator().manual_seed(0)
    probe = PairLogps(*(-torch.rand(len(configs), *shape, generator=probe_gen) * 3 for _ in range(4)),
                      chosen_tokens=torch.ones(len(configs), *shape), rejected_tokens=torch.ones(len(configs), *shape),
                      kl_logratio=torch.rand(len(configs), *shape[:-1], 1, generator=probe_gen),
                      chosen_safe=torch.randint(0, 2, (len(configs), *shape), generator=probe_gen).float(),
                      rejected_safe=torch.randint(0, 2, (len(configs), *shape), generator=probe_gen).float())
    try:
        ok = torch.allclose(vectorised(probe).losses, looped(probe), rtol=1e-5, atol=1e-6)
    except (TypeError, RuntimeError, ValueError):
        ok = False
    return (lambda b: vectorised(b).losses, True) if ok else (looped, False)


def _batch_kl(chosen: torch.Tensor, rejected: torch.Tensor, ref: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The batch's log π/π_ref over its responses, weighted by how often each pair was drawn; ``(..., 1)``.
    The bandit has one context, so every other response of the batch is a "mismatched" one and the
    mismatched-pair estimate of KL(π ‖ π_ref) is this mean (``PairLogps.kl_logratio``)."""
    with torch.no_grad():
        return (((chosen + rejected) / 2 - ref) * weights).sum(-1, keepdim=True)


def _take(b: PairLogps, i: int) -> PairLogps:
    return PairLogps(**{f.name: None if getattr(b, f.name) is None else getattr(b, f.name)[i]
                        for f in dataclasses.fields(b)})


def run_bandit(algorithms: Sequence[type[Pairwise]], settings: BanditSettings = BanditSettings(),
               datasets: Sequence[BanditDataset] = DATASETS,
               progress: Callable[[int, int], None] | None = None,
               base_configs: dict[str, AlgorithmConfig] | None = None) -> list[BanditRun]:
    """Train every (algorithm, strength) on every dataset and seed; returns one run per config.

    ``base_configs`` maps an algorithm name to the config its strength sweep starts from."""
    chosen, rejected, arm_mask, n_pairs, K = _padded(datasets)
    D, P, S = len(datasets), chosen.shape[1], settings.seeds
    chosen_safe, rejected_safe = _pair_safety(datasets, chosen, rejected, K)
    ref = -torch.log((arm_mask == 0).sum(-1).float())  # log π_ref = −log K_d, (D,)

    groups = []  # (cls, configs, row slice, loss fn, vectorised)
    rows = 0
    for cls in algorithms:
        configs = sweep_configs(cls, settings.strengths, (base_configs or {}).get(cls.name))
        fn, vectorised = _loss_fn(cls, configs, (D, S, P))
        groups.append((cls, configs, slice(rows, rows + len(configs)), fn, vectorised))
        rows += len(configs)

    theta = torch.zeros(rows, D, S, K, requires_grad=True)
    optimiser = torch.optim.Adam([theta], lr=settings.lr, fused=True)
    gather_c = chosen.view(1, D, 1, P).expand(rows, D, S, P)
    gather_r = rejected.view(1, D, 1, P).expand(rows, D, S, P)
    ref_pairs = ref.view(1, D, 1, 1).expand(rows, D, S, P)
    ones = torch.ones(rows, D, S, P)
    safe_c = chosen_safe.view(1, D, 1, P).expand(rows, D, S, P)
    safe_r = rejected_safe.view(1, D, 1, P).expand(rows, D, S, P)
    sizes = [len(configs) for _, configs, _, _, _ in groups]
    group_refs = [(ref_pairs[sl], ref_pairs[sl]) if cls.uses_reference else (None, None)
                  for cls, _, sl, _, _ in groups]
    records, record_steps = [], []

    def record(step: int) -> None:
        with torch.no_grad():
            records.append(torch.softmax(theta + arm_mask.view(1, D, 1, K), -1).clone())
        record_steps.append(step)

    record_at = record_steps_for(settings.steps, settings.records)
    record(0)
    # A loss that draws random numbers (β-DPO's filter) draws them from its own stream, seeded by the
    # suite: a run is reproducible, and a group's numbers do not depend on the groups beside it (the Ray
    # backend runs one algorithm a cell). The caller's global generator is left as it was.
    streams = [torch.Generator().manual_seed(settings.base_seed).get_state() for _ in groups]

    def group_loss(g: int, fn, pairs: PairLogps) -> torch.Tensor:
        torch.set_rng_state(streams[g])
        out = fn(pairs)
        streams[g] = torch.get_rng_state()
        return out

    chunk = 1000
    with torch.random.fork_rng(devices=[]):
        for start in range(0, settings.steps, chunk):
            n = min(chunk, settings.steps - start)
            weights = _pair_weights(n_pairs, S, n, settings.batch_size, P, settings.base_seed, start,
                                    settings.first_seed)
            for i in range(n):
                logp = torch.log_softmax(theta + arm_mask.view(1, D, 1, K), -1)
                # One split per side and one weighted sum keep the autograd graph, whose
                # per-node overhead dominates a step this small, short.
                chosen_parts = logp.gather(-1, gather_c).split(sizes)
                rejected_parts = logp.gather(-1, gather_r).split(sizes)
                losses = [group_loss(g, fn, PairLogps(lc, lr, *refs, ones[sl], ones[sl],
                                                      _batch_kl(lc, lr, ref_pairs[sl], weights[i])
                                                      if cls.uses_kl_estimate else None, safe_c[sl], safe_r[sl]))
                          for g, ((cls, _, sl, fn, _), lc, lr, refs)
                          in enumerate(zip(groups, chosen_parts, rejected_parts, group_refs))]
                total = (torch.cat(losses) * weights[i]).sum()
                optimiser.zero_grad(set_to_none=True)
                total.backward()
                optimiser.step()
                step = start + i + 1
                if step in record_at:
                    record(step)
            if progress is not None:
                progress(start + n, settings.steps)

    curves = torch.stack(records)  # (R, rows, D, S, K)
    return [BanditRun(cls, config, record_steps, curves[:, sl][:, j], vectorised)
            for cls, configs, sl, _, vectorised in groups for j, config in enumerate(configs)]


def record_steps_for(steps: int, records: int) -> set[int]:
    """About ``records`` step numbers in (0, steps]: log-spaced early, evenly spaced late, and the last."""
    half = max(records // 2, 1)
    geometric = {round(steps ** (i / half)) for i in range(1, half + 1)}
    even = {round(steps * i / half) for i in range(1, half + 1)}
    return {s for s in geometric | even if 0 < s <= steps} | {steps}


def fixed_point(algorithm: Pairwise, dataset: BanditDataset) -> torch.Tensor | None:
    """The algorithm's declared closed form on ``dataset`` (``Pairwise.bandit_fixed_point``), or None."""
    return algorithm.bandit_fixed_point(len(dataset.arms), dataset.pairs, dataset.safe)


def ipo_fixed_point(dataset: BanditDataset, tau: float) -> torch.Tensor:
    """IPO's closed form at τ (see ``IPO.bandit_fixed_point``)."""
    from prefzoo.algorithms.ipo import IPO

    return fixed_point(IPO(IPO.Config(tau=tau)), dataset)
