"""``python -m workbench bench sweep-objective``: a black-box sweep of a cheap function.

``workbench.sweep(objective=branin, trials=300)`` with the inline executor into a fresh
store: the sweep's wall time, each trial's time (suggestion, store writes and the call,
which is microseconds: so this is the engine's and the store's overhead), the best score
against the known optimum, and the view over the finished sweep: its build (models on
their thread, as in a notebook; the first one also imports plotly and ipywidgets; and with
the models fitted first) and its refresh.
Targets: the sweep finishes in minutes, the view builds in <= 3 s and refreshes in <= 1 s.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench.bench.common import machine, print_table, summarize, write_result

SPACE = {
    "x": {"kind": "linear", "min": -5.0, "max": 10.0},
    "y": {"kind": "linear", "min": 0.0, "max": 15.0},
}
OPTIMUM = -0.397887  # Branin's minimum, negated: the sweep maximizes


def branin(x: float, y: float) -> float:
    """The Branin function, negated (three global optima, 0.397887 at each)."""
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    return -(a * (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10)


def run(trials: int = 300, refreshes: int = 5) -> dict:
    import workbench
    from workbench.notebook.sweepview import SweepView

    ends: list[float] = []
    with tempfile.TemporaryDirectory(prefix="workbench-bench-") as tmp:
        store = Path(tmp) / "wb.db"
        start = time.perf_counter()
        handle = workbench.sweep(
            objective=branin,
            space=SPACE,
            trials=trials,
            store=store,
            background=False,
            on_trial=lambda _: ends.append(time.perf_counter()),
        )
        sweep_s = time.perf_counter() - start
        per_trial = np.diff([start, *ends]).tolist()
        best = handle.best()["score"]
        t = time.perf_counter()
        SweepView(handle.id, store=handle.store.path, autostart=False)
        first_s = time.perf_counter() - t  # with the first import of plotly and ipywidgets
        t = time.perf_counter()
        view = SweepView(handle.id, store=handle.store.path, autostart=False)
        build_models_s = time.perf_counter() - t
        times = []
        for _ in range(refreshes):
            t = time.perf_counter()
            view.refresh(force=True, models=False)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        view = SweepView(handle.id, store=handle.store.path)  # models on their thread
        build_s = time.perf_counter() - t
        view.update_models()  # waits for the thread's fit: none outlives the store
        view.close()
    rows = [
        ["sweep", f"{sweep_s:.1f} s", f"{trials} trials"],
        ["trial p50 / p95 / max", _times(per_trial), "suggestion, store, call"],
        ["last 50 trials p50", f"{np.median(per_trial[-50:]):.3f} s", ""],
        ["best score", f"{best:.4f}", f"optimum {OPTIMUM}"],
        ["view build, first", f"{first_s:.2f} s", "models fitted, plotly's import"],
        ["view build", f"{build_s:.2f} s", "models on their thread (target <= 3 s)"],
        ["view build, models fitted", f"{build_models_s:.2f} s", "autostart=False"],
        ["view refresh p50", f"{np.median(times):.3f} s", "target <= 1 s"],
    ]
    print(f"a {trials}-trial sweep of the Branin function (inline executor)")
    print_table(["what", "time", "note"], rows)
    payload = {
        "machine": machine(),
        "trials": trials,
        "sweep_s": sweep_s,
        "trial_s": summarize(per_trial),
        "best": best,
        "optimum": OPTIMUM,
        "view_first_build_s": first_s,
        "view_build_s": build_s,
        "view_build_models_s": build_models_s,
        "view_refresh_s": summarize(times),
    }
    write_result("sweep_objective", payload)
    return payload


def _times(values: list[float]) -> str:
    p50, p95 = np.percentile(values, [50, 95])
    return f"{p50:.3f} / {p95:.3f} / {max(values):.3f} s"
