"""Paper reproductions on the bandit suite (Azar et al. 2023, IPO): the closed form of §5.2 and the
illustrative examples of §5.4, at the paper's budget, for every registered pairwise algorithm."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch

from prefzoo.algorithms.framework.base import PairLogps, Pairwise
from prefzoo.benchmarks.harness.stats import mean_ci
from prefzoo.benchmarks.suites.bandit.pairwise import DATASETS, BanditSettings, ipo_fixed_point, run_bandit
from prefzoo.benchmarks.suites.bandit.suite import BanditSuite

# The module's fixture trains every pairwise algorithm at the paper's budget (about a minute on 2 cores).
pytestmark = pytest.mark.slow
from prefzoo.registry import ALGORITHMS

PAIRWISE = [ALGORITHMS.get(n) for n in ALGORITHMS.names() if issubclass(ALGORITHMS.get(n), Pairwise)]
STRENGTHS = (0.1, 0.5, 1.0, 2.0)
D = {d.name: d for d in DATASETS}


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory):
    """The default suite (18,000 steps, 10 seeds, every pairwise algorithm), run once."""
    results = tmp_path_factory.mktemp("results")
    start = time.perf_counter()
    docs = BanditSuite().run(PAIRWISE, results)
    print(f"\nbandit suite: {time.perf_counter() - start:.1f} s for {len(PAIRWISE)} algorithms")
    return docs, results


def finals(docs, algorithm, strength, dataset):
    """Final π over arms for every seed, (seeds, K)."""
    rows = [d["datasets"][dataset]["final"] for d in docs
            if d["algorithm"] == algorithm and d["strength"]["value"] == strength]
    assert len(rows) == BanditSettings().seeds
    return torch.tensor(rows)


@pytest.mark.parametrize("tau,paper", [(0.1, 0.9933), (0.5, 0.7311), (1.0, 0.6225), (2.0, 0.5622)])
def test_ipo_two_arm_closed_form(suite_run, tau, paper):
    """§5.2: with y1 always preferred IPO converges to π(y1) = σ(1/(2τ)), DPO to π(y1) = 1."""
    docs, _ = suite_run
    measured = finals(docs, "ipo", tau, "two-arm")[:, 0]
    assert 1 / (1 + math.exp(-0.5 / tau)) == pytest.approx(paper, abs=5e-5)
    assert (measured - paper).abs().max() < 1e-3, measured


@pytest.mark.parametrize("beta", STRENGTHS)
def test_dpo_two_arm_goes_deterministic(suite_run, beta):
    docs, _ = suite_run
    assert finals(docs, "dpo", beta, "two-arm")[:, 0].min() > 0.999


@pytest.mark.parametrize("beta", STRENGTHS)
def test_d1_dpo_becomes_deterministic_for_every_beta(suite_run, beta):
    docs, _ = suite_run
    assert finals(docs, "dpo", beta, "D1")[:, 0].mean() > 0.999


def test_d1_ipo_stays_non_greedy_and_less_so_as_tau_shrinks(suite_run):
    docs, _ = suite_run
    pi_a = [finals(docs, "ipo", tau, "D1")[:, 0].mean().item() for tau in sorted(STRENGTHS, reverse=True)]
    assert all(p < 0.97 for p in pi_a), pi_a
    assert all(x < y for x, y in zip(pi_a, pi_a[1:])), f"π(a) must grow as τ shrinks: {pi_a}"
    for tau in STRENGTHS:
        pi = finals(docs, "ipo", tau, "D1").mean(0)
        assert torch.allclose(pi, ipo_fixed_point(D["D1"], tau).float(), atol=0.01), (tau, pi)


@pytest.mark.parametrize("beta", STRENGTHS)
def test_d3_text_dpo_drives_the_never_winning_action_to_zero(suite_run, beta):
    docs, _ = suite_run
    assert finals(docs, "dpo", beta, "D3-text")[:, 2].max() < 1e-3


def test_d3_text_ipo_lowers_the_never_winning_action_gradually(suite_run):
    docs, _ = suite_run
    pi_c = [finals(docs, "ipo", tau, "D3-text")[:, 2].mean().item() for tau in sorted(STRENGTHS, reverse=True)]
    assert all(x > y for x, y in zip(pi_c, pi_c[1:])), f"π(c) must fall as τ shrinks: {pi_c}"
    assert pi_c[0] > 0.2  # τ = 2 keeps c well away from 0
    for tau in STRENGTHS:
        expected = ipo_fixed_point(D["D3-text"], tau)[2].item()
        assert abs(pi_c[sorted(STRENGTHS, reverse=True).index(tau)] - expected) < 0.01


def margin_only(cls) -> bool:
    """Whether the default config's loss sees the policy only through log π(y_w) − log π(y_l): shifting
    both log-probs by one constant leaves it unchanged, also after a first batch has set any running
    state (BCO's δ averages every batch so far, so a shift of this batch alone moves it). Azar et al.'s
    D3 argument holds for those; losses of each response's own likelihood (NCA, SPPO, Cal-DPO, CPO's
    NLL, BCO, ...) move θ_c."""
    g = torch.Generator().manual_seed(0)
    b = [-torch.rand(8, generator=g, dtype=torch.float64) * 3 - 0.1 for _ in range(6)]
    ones = torch.ones(8, dtype=torch.float64)

    def loss(shift: float) -> torch.Tensor:
        algorithm = cls()
        kl = lambda c, r: torch.cat([c - b[2], r - b[3]])  # noqa: E731 (one context: the batch's responses)
        # lengths 1 and every response safe (single-factor data), as the bandit suite gives them
        algorithm(PairLogps(b[4], b[5], b[2], b[3], ones, ones, kl(b[4], b[5]), ones, ones))  # an earlier batch
        c, r = b[0] + shift, b[1] + shift
        return algorithm(PairLogps(c, r, b[2], b[3], ones, ones, kl(c, r), ones, ones)).losses

    return torch.allclose(loss(0.0), loss(-0.05), rtol=0.0, atol=1e-10)


MARGIN_ONLY = [c for c in PAIRWISE if margin_only(c)]


def test_the_margin_only_losses_are_the_ones_expected():
    names = {c.name for c in MARGIN_ONLY}
    assert {"dpo", "ipo", "cdpo", "robust-dpo", "slic-hinge", "simpo", "exo", "aot", "discopop", "bfpo"} <= names
    assert not names & {"nca", "sppo-hard", "cal-dpo", "cpo", "orpo", "apo", "dpop", "bco", "kto"}


@pytest.mark.parametrize("cls", MARGIN_ONLY, ids=lambda c: c.name)
def test_d3_as_printed_gives_the_third_action_no_gradient(cls):
    """With {(a,b), (b,a)} every loss of log π(a) − log π(b) leaves θ_c's gradient exactly zero."""
    theta = torch.randn(3, requires_grad=True)
    logp = torch.log_softmax(theta, 0)
    chosen, rejected = logp[[0, 1, 0, 1]], logp[[1, 0, 1, 0]]
    ref = torch.full((4,), -math.log(3))
    ones = torch.ones(4)
    cls()(PairLogps(chosen, rejected, ref, ref, ones, ones, chosen_safe=ones, rejected_safe=ones)).loss.backward()
    assert theta.grad[2].item() == 0.0
    assert theta.grad[:2].abs().sum() >= 0  # a and b may move; c may not


def test_d3_as_printed_keeps_theta_c_at_the_centre(suite_run):
    """π(c) moves only as π(a), π(b) do: θ_c = 0 = θ_a + θ_b gives π(c)² = π(a)·π(b), for every run."""
    docs, _ = suite_run
    for doc in docs:
        if doc["algorithm"] not in {c.name for c in MARGIN_ONLY}:
            continue
        a, b, c = doc["datasets"]["D3-printed"]["final"]
        assert c * c == pytest.approx(a * b, rel=1e-4, abs=1e-6), doc["algorithm"]  # results keep 6 decimals
        assert c <= 1 / 3 + 1e-6


def test_every_pairwise_algorithm_ran_on_every_dataset(suite_run):
    docs, results = suite_run
    ran = {d["algorithm"] for d in docs}
    assert ran == {c.name for c in PAIRWISE}
    for doc in docs:
        assert set(doc["datasets"]) == {d.name for d in DATASETS}
        for name, data in doc["datasets"].items():
            assert math.isclose(sum(data["final"]), 1, abs_tol=1e-4)
    files = list(results.glob("bandit/*/seed*-*.json"))
    assert len(files) == len(docs) and not list(results.glob("**/*.tmp"))
    assert json.loads(files[0].read_text())["suite"] == "bandit"


def test_seeds_share_minibatches_across_algorithms_and_are_reproducible():
    """Two runs with the same settings give identical curves; a seed's draws do not depend on the
    other algorithms in the run."""
    settings = BanditSettings(steps=300, seeds=3, strengths=(0.5,))
    dpo, ipo = ALGORITHMS.get("dpo"), ALGORITHMS.get("ipo")
    alone = run_bandit([dpo], settings)[0].curves
    together = run_bandit([ipo, dpo], settings)[1].curves
    assert torch.allclose(alone, together, atol=1e-5)
    # different seeds see different mini-batches: D1's π(a) differs between seeds
    assert len({round(v, 6) for v in alone[-1, 1, :, 0].tolist()}) == 3


def test_mean_ci_is_a_t_interval():
    mean, half = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and half == pytest.approx(3.182446 * math.sqrt(5 / 3) / 2, rel=1e-6)


@pytest.mark.parametrize("names", [("dpo",), ("online-dpo",), ("rloo",), ("bt",)])
def test_seed_s_draws_the_same_numbers_whatever_seed_a_run_starts_from(names, tmp_path):
    """``--seed 2 --seeds 1`` writes seed 2 with the numbers seed 2 has in a run of seeds 0–2, in every
    part of the suite (pairwise, online, RL, reward learning)."""
    classes = [ALGORITHMS.get(n) for n in names]
    steps = 200 if classes[0].family.value == "pairwise" else None
    strengths = (0.1,)
    alone = BanditSuite().run(classes, tmp_path / "alone", seeds=1, seed=2, steps=steps, strengths=strengths,
                              log=lambda _: None)
    together = BanditSuite().run(classes, tmp_path / "together", seeds=3, steps=steps, strengths=strengths,
                                 log=lambda _: None)
    assert {d["seed"] for d in alone} == {2} and {d["seed"] for d in together} == {0, 1, 2}
    strip = lambda d: {k: v for k, v in d.items() if k not in ("hash", "settings") and "wall_time" not in k}  # noqa: E731
    by_key = lambda docs: {(d["algorithm"], json.dumps(d["config"]), d["seed"]): strip(d) for d in docs}  # noqa: E731
    mine, theirs = by_key(alone), by_key(together)
    assert mine and all(mine[k] == theirs[k] for k in mine)
    assert any(mine[k] != theirs[(k[0], k[1], 1)] for k in mine)  # another seed does differ


def test_the_compact_reading_says_which_losses_feel_their_strength(suite_run):
    """The leaderboard's one-row-per-algorithm table: DPO's π(y1) → 1 at every β (Azar et al. §5.4), IPO's
    stops where τ sets it, at its closed form."""
    from prefzoo.benchmarks.suites.bandit.summary import closed_form_summary, strength_table

    docs, _ = suite_run
    typed = BanditSuite().read(docs)
    headers, rows = strength_table(typed)
    reading = {r[0]: r[-1] for r in rows}
    assert reading["dpo"].startswith("π(y1) → 1 at every strength") and "c driven to 0 at every strength" in reading["dpo"]
    assert reading["ipo"].startswith("its strength sets where π(y1) stops")
    ipo = next(r for r in rows if r[0] == "ipo")
    assert ipo[headers.index("two-arm π(y1)")] == "0.562 – 0.993"  # σ(1/(2τ)) at τ = 2 and τ = 0.1
    closed = {(r[0], r[1]): r for r in closed_form_summary(typed)[1]}
    assert float(closed[("ipo", "two-arm")][-1]) < 1e-4
