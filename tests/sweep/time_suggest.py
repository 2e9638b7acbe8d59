"""Time ``Sweeper.suggest()`` at 100, 500 and 2,000 observations (not a test: run it by hand).

    .venv/bin/python -m tests.sweep.time_suggest [calls]

Each history is random RL-shaped trials, 5 curve points each, a few out-of-memory failures;
then ``calls`` suggestions are timed, each followed by its trial's curve points, so kernel
refits at milestones are counted in the percentiles as they would be in a sweep.
"""

import sys
import time

import numpy as np

from tests.sweep.problems import RL_CONSTRAINTS, RL_SPACE, rl_curve
from workbench.sweep import Sweeper


def history(n, rng, sweeper):
    rows = []
    while len(rows) < n:
        p = sweeper.space.sample(rng, 1)[0]
        if not sweeper.constraints.ok(p):
            continue
        points = rl_curve(p, rng)
        if points is None:
            rows.append({"params": p, "score": None, "cost": None, "failed": True})
        else:
            rows += [{"params": q, "score": s, "cost": c} for q, s, c in points]
    return rows[:n]


def main(calls=40):
    for n in (100, 500, 2000):
        rng = np.random.default_rng(n)
        sw = Sweeper(RL_SPACE, RL_CONSTRAINTS, length="total_steps", seed=0, n_suggested=n // 5)
        t0 = time.perf_counter()
        sw.replay(history(n, rng, sw))
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            p = sw.suggest()
            times.append(time.perf_counter() - t)
            for q, s, c in rl_curve(p, rng) or [(p, None, None)]:
                sw.observe(q, s, c, failed=s is None)
        t = np.array(times)
        print(
            f"{n:>5} observations: suggest p50 {np.median(t):.2f} s, "
            f"p95 {np.quantile(t, 0.95):.2f} s, max {t.max():.2f} s "
            f"(first call, with replay and fits: {times[0]:.2f} s; "
            f"total {time.perf_counter() - t0:.0f} s)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
