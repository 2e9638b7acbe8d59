"""The trainer's clock and its host-to-device staging: what differs between CPU and GPU
runs besides the kernels (``workbench.ppo.advantage`` picks those)."""

from __future__ import annotations

import itertools
import time

import torch

from workbench import metrics as M

# The update's phases, timed inside ``timing/learn`` (``PhaseTimer.phases``; benchmarks
# read them).
LEARN_PHASES = ("advantage", "loss", "backward", "optimizer")


class PhaseTimer:
    """Seconds per phase (``metrics.TIMING_KEYS``) over an epoch, one ``lap(phase)`` at a time.

    CPU: wall clock between laps. CUDA queues work asynchronously, so a lap records a CUDA
    event instead and the gaps between events are read once, in ``reset()``: time on the
    GPU's stream, which includes the host's time wherever the GPU waited for it. With
    ``profile`` a lap synchronizes instead: exact wall-clock phases, but the GPU stalls.

    A lap may also name one of ``LEARN_PHASES``: it counts as ``learn`` in the epoch's
    timing row, and ``reset()`` keeps the split in ``phases`` (every key) for benchmarks.
    """

    def __init__(self, device: torch.device, profile: bool = False):
        cuda = device.type == "cuda"
        self.events, self.sync = cuda and not profile, cuda and profile
        self.totals = dict.fromkeys((*M.TIMING_KEYS, *LEARN_PHASES), 0.0)
        self.phases = dict(self.totals)
        self.start()

    def start(self) -> None:
        self.last = time.perf_counter()
        if self.events:
            self.marks = [(None, self._event())]

    def _event(self):
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def lap(self, key: str) -> None:
        if self.events:
            self.marks.append((key, self._event()))
            return
        if self.sync:
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.totals[key] += now - self.last
        self.last = now

    def reset(self) -> dict:
        if self.events:
            self.marks[-1][1].synchronize()
            for (_, a), (key, b) in itertools.pairwise(self.marks):
                self.totals[key] += a.elapsed_time(b) / 1000.0
            self.marks = self.marks[-1:]
        self.phases = self.totals
        self.totals = dict.fromkeys(self.phases, 0.0)
        out = {k: self.phases[k] for k in M.TIMING_KEYS}
        out["learn"] += sum(self.phases[k] for k in LEARN_PHASES)
        return out


class Staging:
    """Host rows to the device through a pinned buffer, without blocking the host (CUDA).

    The buffer is rewritten only once the copy out of it has finished (an event, nearly
    always passed already: each step's read of the actions waits for earlier copies).
    """

    def __init__(self, shape, dtype, device: torch.device):
        self.pinned = torch.empty(shape, dtype=dtype, pin_memory=True)
        self.copied = torch.cuda.Event()
        self.device = device

    def __call__(self, host: torch.Tensor, rows: slice) -> torch.Tensor:
        self.copied.synchronize()
        buf = self.pinned[rows]
        buf.copy_(host)
        out = buf.to(self.device, non_blocking=True)
        self.copied.record()
        return out
