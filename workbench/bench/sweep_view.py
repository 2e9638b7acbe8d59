"""``python -m workbench bench sweep-view``: the live sweep view on a sweep of 10,000 trials.

The store is built through the store's public API, as a sweep writes it: each trial is a
run of the sweep with its parameters as config, ``points`` metric rows (a learning curve
that rises with the training length), one observation per row and a summary at its end.
Then, in this process, as in a notebook's kernel:

- **first draw**: seconds from ``SweepView(sweep_id)`` to a figure holding every trial's
  final point (the models are refitted afterwards, off the drawing thread);
- **new observation on screen**: a writer thread adds trials to the store at a steady rate
  while the view polls; for each new observation, the seconds from its write to the view
  sending the trace that holds it to the browser (p50/p95);
- **memory**: the resident memory the view added (the process's RSS after the view is
  built and has drawn everything, less before).

What is timed ends when the kernel has sent the trace holding the new point; the browser's
share (the websocket and plotly.js redrawing the small trace of recent points beside the
WebGL one, which is not re-sent) is not part of it.
"""

from __future__ import annotations

import math
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from workbench import metrics as M
from workbench.bench.common import machine, print_table, write_result

DEFINITION = {
    "env": "bandit",
    "name": "view-bench",
    "metric": "score",
    "cost": M.AGENT_STEPS,
    "budget": {"trials": 20_000},
    "space": {
        "learning_rate": {"kind": "log", "min": 1e-4, "max": 0.1},
        "gamma": {"kind": "logit", "min": 0.9, "max": 0.999},
        "update_epochs": {"kind": "int", "min": 1, "max": 8},
        "total_steps": {"kind": "log", "min": 10_000, "max": 10_000_000},
    },
}


def _trial(rng: np.random.Generator) -> dict:
    space = DEFINITION["space"]
    lr, steps = space["learning_rate"], space["total_steps"]
    return {
        "learning_rate": float(math.exp(rng.uniform(math.log(lr["min"]), math.log(lr["max"])))),
        "gamma": float(1 - 10 ** rng.uniform(-3, -1)),
        "update_epochs": int(rng.integers(1, 9)),
        "total_steps": int(math.exp(rng.uniform(math.log(steps["min"]), math.log(steps["max"])))),
    }


def _curve(params: dict, points: int, rng: np.random.Generator) -> list[tuple[int, float, float]]:
    """(agent steps, wall seconds, score) of a trial's metric rows: the score rises with
    the steps towards a ceiling set by the learning rate, plus noise."""
    quality = math.exp(-((math.log10(params["learning_rate"]) + 2.2) ** 2))
    out = []
    for k in range(1, points + 1):
        steps = int(params["total_steps"] * k / points)
        score = quality * (1 - math.exp(-steps / 1e6)) + rng.normal(0, 0.02)
        out.append((steps, steps / 50_000.0, score))
    return out


def add_trials(store, sweep_id: str, n: int, points: int, rng, on_obs=None) -> None:
    """Record ``n`` finished trials of ``sweep_id`` as a sweep's driver would."""
    for _ in range(n):
        params = _trial(rng)
        run_id = store.create_run("trial", DEFINITION["env"], params, sweep_id=sweep_id)
        summary: dict = {}
        for seq, (steps, wall, score) in enumerate(_curve(params, points, rng)):
            row = {M.AGENT_STEPS: steps, M.WALL_TIME: wall, M.env(M.SCORE): score}
            store.log(run_id, seq, row)
            M.summarize_row(summary, row)
            obs = store.add_observation(sweep_id, run_id, params, score, float(steps))
            if on_obs is not None:
                on_obs(obs)
        store.finish(run_id, "finished", summary)


def build(path, trials: int, points: int, seed: int = 0) -> str:
    """A store at ``path`` holding one sweep of ``trials`` trials; returns its id."""
    from workbench.store import RunStore
    from workbench.sweep.definition import load

    store = RunStore(path)
    d = load({**DEFINITION, "seed": seed})
    sweep_id = store.create_sweep(d.name, d.to_record())
    add_trials(store, sweep_id, trials, points, np.random.default_rng(seed))
    return sweep_id


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def measure(path, sweep_id: str, new: int, points: int, rate: float) -> dict:
    """First draw, write-to-sent latency of ``new`` more trials, and the view's memory."""
    from workbench.notebook import SweepView
    from workbench.store import RunStore

    store = RunStore(path)
    store.claim_sweep(sweep_id)  # running, in this process: the writer below is its driver
    rss = _rss_mb()
    started = time.perf_counter()
    view = SweepView(sweep_id, store=store, model_interval=5.0)  # models refit on its thread
    first_draw = time.perf_counter() - started
    trials = len(view.monitor.state.runs)
    drawn = len(view.traced("trials")["x"])
    rng = np.random.default_rng(12345)
    done = threading.Event()

    def write():
        for _ in range(new):
            add_trials(store, sweep_id, 1, points, rng)
            time.sleep(1.0 / rate)
        done.set()

    seen = len(view.latencies)
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join()
    deadline = time.monotonic() + 30
    while len(view.latencies) < seen + new * points and time.monotonic() < deadline:
        time.sleep(0.1)
    latencies = view.latencies[seen:]
    memory = _rss_mb() - rss
    view.close()
    for t in view.monitor.threads:  # a refit in flight ends before the interpreter does
        t.join(timeout=120)
    store.finish_sweep(sweep_id, "finished")
    return {
        "trials": trials,
        "points": int(sum(len(c["score"]) for c in view.monitor.state.curves.values())),
        "drawn_at_first": drawn,
        "first_draw_s": first_draw,
        "new_observations": len(latencies),
        "latency_p50_s": statistics.median(latencies) if latencies else math.nan,
        "latency_p95_s": float(np.percentile(latencies, 95)) if latencies else math.nan,
        "view_memory_mb": memory,
    }


def run(trials: int = 10_000, points: int = 10, new: int = 20, rate: float = 2.0, store=None):
    """Build (or reuse: ``store``) the sweep, measure the view, print and record."""
    for name, value in (("trials", trials), ("points", points), ("new", new)):
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    if not rate > 0:
        raise ValueError(f"rate must be > 0 trials per second, got {rate!r}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(store) if store else Path(tmp) / "view.db"
        if store and path.exists():
            from workbench.store import RunStore

            sweep_id = RunStore(path).sweeps()["id"].iloc[0]
            built = 0.0
        else:
            t0 = time.perf_counter()
            sweep_id = build(path, trials, points)
            built = time.perf_counter() - t0
        result = measure(path, sweep_id, new, points, rate)
    result["build_s"] = built
    targets = {"first_draw_s": 3.0, "latency_p95_s": 1.0, "view_memory_mb": 500.0}
    rows = [
        ["trials / curve points", f"{result['trials']:,} / {result['points']:,}", ""],
        ["first draw", f"{result['first_draw_s']:.2f} s", "<= 3 s"],
        [
            "new observation sent, p50 / p95",
            f"{result['latency_p50_s']:.3f} / {result['latency_p95_s']:.3f} s",
            "p95 <= 1 s",
        ],
        ["view memory (RSS added)", f"{result['view_memory_mb']:.0f} MB", "<= 500 MB"],
    ]
    print_table(["sweep view at scale", "measured", "target"], rows)
    result["targets"] = targets
    result["met"] = {k: bool(result[k] <= v) for k, v in targets.items()}
    write_result("sweep_view", {"machine": machine(), **result})
    return result
