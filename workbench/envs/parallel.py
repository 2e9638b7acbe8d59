"""Threaded stepping: one compiled core per contiguous slice of the copies, stepped in parallel.

Every game's ``step()`` loops over its copies without the GIL, so a few threads can step
disjoint slices at once. ``SlicedCore`` builds one core per slice over views of the env's
one set of buffers and answers the core protocol (``reset``, ``step``,
``first_invalid_action``, ``render``) for all of them, so ``VecEnv`` drives it like a
single core.

Results are identical to serial stepping for the same seed: a copy's RNG is seeded from its
global index (each core gets ``first_index``, the index of its first copy), copies never
read one another (a Snake grid, with all its agents, is one copy and stays in one slice),
and each slice logs into its own sums array, merged after every step; the logged values are
rounded (``log_value`` in ``common.pxd``) so that these sums are exact, and therefore do not
depend on which slice added which episode.
"""

from __future__ import annotations

import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def slice_bounds(num_copies: int, parts: int) -> list[int]:
    """Copy indices where each of ``parts`` near-equal contiguous slices starts, then the end."""
    return [num_copies * k // parts for k in range(parts + 1)]


class SlicedCore:
    """The core protocol over ``slices`` slices of the copies, each its own compiled core.

    ``buffers`` maps the core's buffer names (``obs``, ``actions``, ...) to the env's arrays
    (or None), one row per agent; ``sums`` is the env's log-sums array, kept current after
    every step. ``first_index`` is passed to each core, so a core must accept it.
    """

    def __init__(
        self,
        core_class,
        buffers: dict,
        sums: np.ndarray,
        seed: int,
        params: dict,
        num_copies: int,
        slices: int,
    ):
        num_agents = len(buffers["obs"])
        per_copy = num_agents // num_copies
        self.copy_bounds = slice_bounds(num_copies, slices)
        self.agent_bounds = [c * per_copy for c in self.copy_bounds]
        self.sums = sums
        self.slice_sums = np.zeros((slices, len(sums)), dtype=np.float64)
        self.cores = []
        for k in range(slices):
            lo, hi = self.agent_bounds[k], self.agent_bounds[k + 1]
            views = {name: None if buf is None else buf[lo:hi] for name, buf in buffers.items()}
            try:
                core = core_class(
                    **views,
                    sums=self.slice_sums[k],
                    seed=seed,
                    first_index=self.copy_bounds[k],
                    **params,
                )
            except TypeError as e:
                if "first_index" not in str(e):
                    raise
                raise TypeError(
                    f"slices={slices} needs a core that takes first_index (the global index "
                    f"of its first copy, which seeds copy i from (seed, first_index + i)); "
                    f"{core_class.__name__} does not: use slices=1"
                ) from None
            self.cores.append(core)
        # The calling thread steps the first slice of a call itself.
        self._pool = ThreadPoolExecutor(slices - 1, thread_name_prefix="workbench-env")
        weakref.finalize(self, self._pool.shutdown, wait=False)

    def reset(self, seed: int) -> None:
        for core in self.cores:
            core.reset(seed)

    def first_invalid_action(self, start: int = 0, stop: int | None = None) -> int:
        """Global agent index of the first invalid action in slices start..stop-1, or -1."""
        for k in range(start, len(self.cores) if stop is None else stop):
            bad = self.cores[k].first_invalid_action()
            if bad >= 0:
                return self.agent_bounds[k] + bad
        return -1

    def step(self, start: int = 0, stop: int | None = None) -> None:
        """Step slices start..stop-1 in parallel and add their episodes to ``sums``."""
        stop = len(self.cores) if stop is None else stop
        futures = [self._pool.submit(core.step) for core in self.cores[start + 1 : stop]]
        try:
            self.cores[start].step()
        finally:
            for f in futures:
                f.result()
        part = self.slice_sums[start:stop]
        self.sums += part.sum(axis=0)
        part.fill(0.0)

    def render(self, index: int, frame: np.ndarray) -> None:
        k = int(np.searchsorted(self.copy_bounds, index, side="right")) - 1
        self.cores[k].render(index - self.copy_bounds[k], frame)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
