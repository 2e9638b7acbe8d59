"""``python -m workbench bench sweep-executors``: trials per hour for each executor.

The same short sweep (CartPole through the Gymnasium adapter by default, a few seconds a
trial) runs under ``inline``, ``processes`` (2 workers) and ``ray`` (a local cluster),
one after the other in one process. Reported per executor: trials finished per hour of
wall-clock, the mean trial's own training time, and the overhead per trial: the sweep's
wall-clock times the workers, divided by the trials, minus that training time (what
suggesting, starting, streaming and recording a trial costs).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from workbench import metrics as M
from workbench.bench.common import print_table, write_result
from workbench.store import RunStore

DEFINITION = {
    "env": "gym:CartPole-v1",
    "name": "executors",
    "metric": M.EPISODE_RETURN,
    "cost": M.WALL_TIME,
    "early_stopping": False,
    "train": {"eval_episodes": 8, "total_steps": 40_000},
    "space": {
        "learning_rate": {"kind": "log", "min": 0.003, "max": 0.03},
        "gae_lambda": {"kind": "logit", "min": 0.8, "max": 0.99},
    },
}


def measure(executor: str, trials: int, workers: int) -> dict:
    import workbench

    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "bench.db")
        start = time.perf_counter()
        handle = workbench.sweep(
            {**DEFINITION, "budget": {"trials": trials}},
            store=store,
            executor=executor,
            workers=workers if executor != "inline" else None,
            background=False,
        )
        wall = time.perf_counter() - start
        runs = store.runs(sweep=handle.id)
        train = [float(t) for t in runs[M.WALL_TIME].dropna()]
    slots = 1 if executor == "inline" else workers
    finished = int((runs["status"] == "finished").sum())
    mean_train = statistics.fmean(train) if train else float("nan")
    return {
        "executor": executor,
        "workers": slots,
        "trials": trials,
        "finished": finished,
        "wall_s": wall,
        "trials_per_hour": finished / wall * 3600,
        "mean_trial_s": mean_train,
        "overhead_per_trial_s": wall * slots / max(trials, 1) - mean_train,
    }


def run(trials: int = 12, workers: int = 2, executors=("inline", "processes", "ray")) -> dict:
    results = []
    for name in executors:
        if name == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                print("ray: skipped (pip install 'workbench[ray]')")
                continue
        results.append(measure(name, trials, workers))
    print(f"sweep executors: {trials} CartPole trials of 40k steps each")
    print_table(
        ["executor", "workers", "finished", "wall", "trials/hour", "trial", "overhead/trial"],
        [
            [
                r["executor"],
                r["workers"],
                r["finished"],
                f"{r['wall_s']:.1f}s",
                f"{r['trials_per_hour']:.0f}",
                f"{r['mean_trial_s']:.2f}s",
                f"{r['overhead_per_trial_s']:.2f}s",
            ]
            for r in results
        ],
    )
    write_result("sweep_executors", {"trials": trials, "workers": workers, "results": results})
    return {"results": results}
