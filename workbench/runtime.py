"""Process-wide settings (torch threads, CPU affinity), changed only by entry points.

The CLI, the benchmarks and sweep workers own their process and may tune it; ``train()``
and ``Trainer`` never touch process state, so two runs in one kernel keep their settings
and a notebook's kernel is left as it was. Each context manager restores what it changed.
"""

from __future__ import annotations

import ctypes
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


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_GLIBC_DEFAULTS = {_M_TRIM_THRESHOLD: 128 * 1024, _M_MMAP_THRESHOLD: 128 * 1024}


def _mallopt():
    """glibc's ``mallopt``, or None (another C library)."""
    try:
        return ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return None


def keep_freed_memory() -> bool:
    """:func:`retain_freed_memory` for the rest of the process's life, for a process that
    is a run's own (a sweep worker). Returns whether the setting took effect."""
    mallopt = _mallopt()
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    return mallopt is not None


@contextmanager
def retain_freed_memory(enabled: bool = True):
    """Within the block, keep freed memory in the process instead of handing it back.

    Training allocates and frees the same multi-megabyte activations every minibatch. glibc
    serves blocks above its mmap threshold with fresh pages and trims the heap's top after
    frees, so every minibatch page-faults its activations in again: measured here, 15-20%
    of a Breakout MLP epoch's CPU time. An mmap threshold of 32 MiB (glibc's maximum) and a
    1 GiB trim threshold reuse the pages. Process-wide, so for entry points only; other C
    libraries, or no glibc: nothing changes. glibc's default values come back after the
    block (its dynamic threshold stays off).
    """
    mallopt = _mallopt() if enabled else None
    if mallopt is not None:
        keep_freed_memory()
    try:
        yield
    finally:
        if mallopt is not None:
            for param, value in _GLIBC_DEFAULTS.items():
                mallopt(param, value)
