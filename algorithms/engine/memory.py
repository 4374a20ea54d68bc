"""Peak memory of a block of work, comparable across engines and cells of one process."""

from __future__ import annotations

import threading
import time

import torch


class PeakMemory:
    """Peak memory of a block, in bytes: the CUDA allocator's peak, or on the CPU the peak resident memory
    above the level at the start of the block, sampled every 10 ms (the process-wide maximum would
    carry over from earlier work)."""

    def __init__(self, device: torch.device):
        self.device, self.peak = device, 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        import psutil

        proc, self._stop = psutil.Process(), threading.Event()
        base = proc.memory_info().rss

        def sample():
            while not self._stop.is_set():
                self.peak = max(self.peak, proc.memory_info().rss - base)
                time.sleep(0.01)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
