"""Work still running in background threads when the interpreter exits is stopped and
waited for, so it is recorded (stopped, with its curve and checkpoint) before Python tears
down what its threads run on; left alone, torch's threads abort the process.

Registered by the first run or sweep started in a thread, never at import.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable

EXIT_REASON = "interpreter exit"
EXIT_WAIT_S = 120.0  # at most this long, in all, for everything to be recorded


class StopAtExit:
    """A set of live objects (run or sweep handles: ``done``, ``wait(timeout)``) that
    ``stop(obj)`` ends; at interpreter exit, each still running is stopped and waited for."""

    def __init__(self, stop: Callable[[object], None]):
        self._stop = stop
        self._live: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()
        self._registered = False

    def add(self, obj) -> None:
        with self._lock:
            self._live.add(obj)
            if not self._registered:
                atexit.register(self)
                self._registered = True

    def __call__(self, timeout: float = EXIT_WAIT_S) -> int:
        """Stop every object still running and wait until each has ended; how many."""
        live = [obj for obj in list(self._live) if not obj.done]
        for obj in live:
            self._stop(obj)
        deadline = time.monotonic() + timeout
        for obj in live:
            obj.wait(max(0.0, deadline - time.monotonic()))
        return len(live)
