"""The reward–KL frontier against hand values: the upper envelope, reading it at a KL level, and
never extrapolating."""

import pytest
import torch

from prefzoo.benchmarks.harness.frontier import envelope, read_at


def test_the_envelope_keeps_the_points_no_smaller_kl_beats():
    # (KL, gold): (0, .2) reference, (1, .5), (1, .4) same KL lower, (2, .45) lower than at KL 1, (3, .7)
    points = [(1.0, 0.5), (0.0, 0.2), (1.0, 0.4), (2.0, 0.45), (3.0, 0.7)]
    assert envelope(points) == [1, 0, 4]  # (0, .2), (1, .5), (3, .7)


def v(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_reading_interpolates_between_envelope_points_and_never_extrapolates():
    points = [(0.0, v(0.0, 0.4)), (1.0, v(0.4, 0.6)), (2.0, v(0.3, 0.5)), (3.0, v(0.8, 1.0)), (4.0, v(0.5, 0.5))]
    # envelope: KL 0 (mean .2), 1 (.5), 3 (.9); KL 2 (.4) and 4 (.5) lie below it
    assert read_at(points, 0.0).tolist() == [0.0, 0.4]
    assert read_at(points, 0.5).tolist() == pytest.approx([0.2, 0.5])  # halfway from KL 0 to KL 1, per prompt
    assert read_at(points, 2.0).tolist() == pytest.approx([0.6, 0.8])  # halfway from KL 1 to KL 3, not the KL-2 point
    assert read_at(points, 3.5).tolist() == pytest.approx([0.8, 1.0])  # reached (KL 4 exists), best gold so far
    assert read_at(points, 4.5) is None  # beyond every point: not reached
    assert read_at(points[1:], 0.5) is None  # nothing at or below the level
    values = [float(read_at(points, k).mean()) for k in (0.0, 0.5, 1.0, 1.5, 2.5, 3.0, 4.0)]
    assert values == sorted(values)  # monotone in KL
