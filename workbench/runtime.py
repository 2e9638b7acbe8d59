"""Process-wide settings (torch threads, CPU affinity), changed only by entry points.

The CLI, the benchmarks and sweep workers own their process and may tune it; ``train()``
and ``Trainer`` never touch process state, so two runs in one kernel keep their settings
and a notebook's kernel is left as it was. Each context manager restores what it changed.
"""

from __future__ import annotations

import os
from contextlib import contextmanager


@contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch intra-op threads (0: leave the setting alone)."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n:
            torch.set_num_threads(before)


@contextmanager
def pinned_to_one_core(enabled: bool = True):
    """Run the block pinned to the first allowed core (where the OS supports affinity)."""
    if not enabled or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (what Slurm, Kubernetes and ``docker stop`` send), raised in the
    main thread so a run ends the way Ctrl-C ends it: stopped, with checkpoint and summary."""


@contextmanager
def stop_on_signals(signals=("SIGTERM", "SIGHUP")):
    """Within the block, turn ``signals`` into :class:`Terminated` (entry points only; the
    previous handlers come back after)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers
        return

    def handler(signum, frame):
        raise Terminated(signal.Signals(signum).name)

    before = {}
    for name in signals:
        sig = getattr(signal, name, None)
        if sig is not None:
            before[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in before.items():
            signal.signal(sig, old)
