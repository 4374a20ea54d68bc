"""Peak memory on the CPU is measured from the same starting state for every block of a process."""

import time

import pytest
import torch

from prefzoo.algorithms.engine.memory import PeakMemory


def test_repeated_blocks_measure_the_same_peak():
    def block():
        xs = [torch.randn(16, 1024) for _ in range(4000)]  # small allocations: the heap, not mmap
        time.sleep(0.05)
        del xs

    peaks = []
    for _ in range(3):
        with PeakMemory(torch.device("cpu")) as memory:
            block()
        peaks.append(memory.peak)
    assert peaks[0] > 200 * 2**20
    assert peaks[1] == pytest.approx(peaks[0], rel=0.15) and peaks[2] == pytest.approx(peaks[0], rel=0.15)
