"""``--tune``'s selection: the defaults stay unless a trial beats them by more than the validation noise."""

import math

import pytest
import torch

from prefzoo.benchmarks.harness.selection import Z, select_trial


def test_a_gain_inside_the_noise_keeps_the_defaults():
    defaults = torch.tensor([0.1, 0.5, 0.3, 0.7])
    close = defaults + torch.tensor([0.01, -0.005, 0.004, 0.0])  # mean gain 0.00225, sd of the gain 0.0063
    s = select_trial([defaults, close])
    d = close.double() - defaults.double()
    assert (s.best, s.selected, s.kept_defaults) == (1, 0, True)
    assert s.gain == pytest.approx(float(d.mean())) and s.noise == pytest.approx(Z * float(d.std()) / 2)
    assert s.describe().startswith("kept the defaults: gain +0.0023 ≤ noise")


def test_a_clear_gain_is_taken_and_ties_go_to_the_earlier_trial():
    defaults = torch.tensor([0.1, 0.5, 0.3, 0.7])
    better = defaults + torch.tensor([0.2, 0.21, 0.19, 0.2])
    s = select_trial([defaults, better, better.clone()])
    assert (s.best, s.selected, s.kept_defaults) == (1, 1, False) and s.gain == pytest.approx(0.2)
    assert select_trial([defaults, defaults - 0.1]).describe() == "the defaults scored best"
    assert select_trial([torch.tensor([0.0]), torch.tensor([1.0])]).noise == math.inf  # one unit: no noise estimate
