"""The power statements under a ranked table: variance components, minimum detectable difference, the
seeds and prompts a difference needs, and the global test, against hand values."""

import math

import pytest
import torch

from prefzoo.benchmarks.harness.power import global_test, variance_components

Z = 1.959964 + 0.841621  # z_{0.975} + z_{0.80}


def test_variance_components_by_hand():
    # D = [[1, 2], [3, 4]]: seed means 1.5, 3.5; prompt means 2, 3; no residual. MS_seed = 2·(1 + 1)/1 = 4,
    # MS_prompt = 2·(0.25 + 0.25)/1 = 1, so σ²_seed = 4/2 = 2 and σ²_prompt = 1/2.
    c = variance_components(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert (c.seed, c.prompt, c.residual, c.seeds, c.prompts) == pytest.approx((2.0, 0.5, 0.0, 2, 2))
    assert c.standard_error() == pytest.approx(math.sqrt(2 / 2 + 0.5 / 2))
    assert c.detectable() == pytest.approx(Z * math.sqrt(1.25), rel=1e-5)
    assert c.detectable(seeds=8, prompts=50) == pytest.approx(Z * math.sqrt(2 / 8 + 0.5 / 50), rel=1e-5)


def test_components_recover_a_simulated_layout():
    g = torch.Generator().manual_seed(0)
    S, P = 200, 400
    d = (0.3 * torch.randn(S, 1, generator=g) + 0.2 * torch.randn(1, P, generator=g)
         + 0.5 * torch.randn(S, P, generator=g))
    c = variance_components(d)
    assert c.seed == pytest.approx(0.09, rel=0.25) and c.prompt == pytest.approx(0.04, rel=0.25)
    assert c.residual == pytest.approx(0.25, rel=0.05)


def test_seeds_and_prompts_a_difference_needs():
    c = variance_components(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    # σ²_seed = 2 dominates: at 2 prompts, S seeds give Z·sqrt(2/S + 0.25) ≤ 2.0 first at S = 8
    assert c.seeds_for(2.0) == min(s for s in range(1, 100) if Z * math.sqrt(2 / s + 0.25) <= 2.0) == 8
    assert c.prompts_for(2.0) is None  # at 2 seeds the seed term alone is Z·1 = 2.8 > 2
    assert c.prompts_for(3.0) == min(p for p in range(1, 100) if Z * math.sqrt(1 + 0.5 / p) <= 3.0)
    one_seed = variance_components(torch.tensor([[0.0, 1.0, 2.0, 3.0]]))
    assert not one_seed.seed_estimated and one_seed.prompt == pytest.approx(torch.tensor([0.0, 1, 2, 3]).var().item())


def test_global_test_by_hand_and_its_p():
    # per-seed means y = [[1, 2], [3, 3], [5, 7]]: row means 1.5, 3, 6, seed means 3, 4, grand 3.5;
    # MS_rows = 2·(4 + 0.25 + 6.25)/2 = 10.5; interaction ±0.5 on rows 2 and 3: SS 1, MS 1/(2·1) = 0.5; F = 21
    rows = [{0: torch.tensor([1.0, 1.0]), 1: torch.tensor([2.0, 2.0])},
            {0: torch.tensor([3.0]), 1: torch.tensor([3.0])},
            {0: torch.tensor([5.0]), 1: torch.tensor([7.0]), 2: torch.tensor([9.0])}]  # seed 2 not shared
    t = global_test(rows, resamples=2000)
    assert (t.statistic, t.df_rows, t.df_error, t.seeds, t.rows) == pytest.approx((21.0, 2, 2, 2, 3))
    # of the 36 within-seed label permutations, those keeping each seed's order of the three rows (or
    # swapping the same pair in both seeds) reach F = 21: 6 of 36
    assert t.p == pytest.approx(6 / 36, abs=0.03)
    g = torch.Generator().manual_seed(1)
    same = [{s: torch.randn(64, generator=g, dtype=torch.float64) for s in range(3)} for _ in range(10)]
    apart = [{s: v + 0.5 * i for s, v in r.items()} for i, r in enumerate(same)]
    assert global_test(same).p > 0.05 and global_test(apart).p < 0.001
    assert global_test(same[:1]) is None and global_test([{0: same[0][0]}, {0: same[1][0]}]) is None
