"""``python -m workbench bench learn NAME``: how fast the env's default config learns.

Trains with the env's config (``workbench/configs/<env>.toml``), optionally for a
wall-clock budget, per seed; reports wall-clock time and agent steps until the episode
metric first reaches each threshold (per-epoch mean, and a 5-epoch rolling mean), then
evaluates the final policy on fresh episodes. Writes ``benchmarks/results/learn_<env>.json``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from workbench.bench.common import print_table, write_result
from workbench.ppo.run import launch, run_eval

# Metric and thresholds reported per env (others: perf at 0.5 and 0.9).
THRESHOLDS = {"breakout": ("score", (300, 500, 800))}
SMOOTH = 5


def first_reach(curve, column: str, target: float) -> dict | None:
    hit = curve[curve[column] >= target]
    if hit.empty:
        return None
    row = hit.iloc[0]
    return {"wall_time": float(row["wall_time"]), "agent_steps": int(row["agent_steps"])}


def run(
    name: str, seconds: float | None = None, seeds=(0,), eval_episodes: int = 64, **overrides
) -> dict:
    metric, targets = THRESHOLDS.get(name, ("perf", (0.5, 0.9)))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            handle = launch(
                name, store=Path(tmp) / "learn.db", seed=seed, eval_episodes=0, **overrides
            )
            handle.wait(seconds)
            if not handle.done:
                handle.stop()
            finished = handle.wait()
            curve = finished.curve()
            col = f"env/{metric}"
            curve["smooth"] = curve[col].rolling(SMOOTH, min_periods=1).mean()
            final = run_eval(finished.policy, finished.config, eval_episodes, seed=seed + 10_000)
            results.append(
                {
                    "seed": seed,
                    "status": finished.status,
                    "wall_time": float(curve["wall_time"].iloc[-1]),
                    "agent_steps": int(curve["agent_steps"].iloc[-1]),
                    "mean_sps": float(curve["agent_steps"].iloc[-1] / curve["wall_time"].iloc[-1]),
                    "reach": {str(t): first_reach(curve, col, t) for t in targets},
                    "reach_smoothed": {str(t): first_reach(curve, "smooth", t) for t in targets},
                    "final_train": float(curve[col].tail(SMOOTH).mean()),
                    "eval": final,
                    "curve": curve[["agent_steps", "wall_time", col]].to_dict("list"),
                    "config": finished.config.to_dict(),
                }
            )
    rows = []
    for r in results:
        for t in targets:
            hit, smooth = r["reach"][str(t)], r["reach_smoothed"][str(t)]
            rows.append(
                [
                    r["seed"],
                    f"{metric} >= {t}",
                    f"{hit['wall_time']:.1f}s" if hit else "-",
                    f"{hit['agent_steps'] / 1e6:.2f}M" if hit else "-",
                    f"{smooth['wall_time']:.1f}s" if smooth else "-",
                    f"{smooth['agent_steps'] / 1e6:.2f}M" if smooth else "-",
                ]
            )
    print(
        f"learn {name}: time and agent steps until the per-epoch mean {metric} first "
        f"reaches each threshold (and its {SMOOTH}-epoch rolling mean)"
    )
    print_table(
        ["seed", "target", "time", "steps", f"time ({SMOOTH}-ep)", f"steps ({SMOOTH}-ep)"], rows
    )
    for r in results:
        print(
            f"seed {r['seed']}: {r['status']} after {r['wall_time']:.0f}s "
            f"({r['agent_steps'] / 1e6:.1f}M steps, {r['mean_sps'] / 1e3:.0f}k steps/s); "
            f"final train {metric} {r['final_train']:.3f}; eval on {eval_episodes} fresh "
            f"episodes: {metric} {r['eval'].get(metric, float('nan')):.3f}"
        )
    summary = {"median_eval": statistics.median(r["eval"].get(metric, 0) for r in results)}
    write_result(
        f"learn_{name}",
        {
            "env": name,
            "metric": metric,
            "seconds": seconds,
            "overrides": overrides,
            "summary": summary,
            "date_unix": time.time(),
            "results": results,
        },
    )
    return {"results": results}
