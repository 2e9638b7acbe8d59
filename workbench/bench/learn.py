"""``python -m workbench bench learn NAME``: how fast the env's default config learns.

Trains with the env's config (its folder's ``env.toml``), optionally for a
wall-clock budget, per seed; reports wall-clock time and agent steps until the episode
metric first reaches each threshold (per-epoch mean, and the mean of the last 20+
episodes), then
evaluates the final policy on fresh episodes. Writes ``benchmarks/results/learn_<env>.json``.
The process keeps freed memory and picks its torch threads by measurement, as
``bench train`` does (a config's ``torch_threads`` wins).

``precisions=("fp32", "bf16")`` (``--precisions fp32,bf16``) trains every seed in each
precision, interleaved (seed 0 fp32, seed 0 bf16, seed 1 fp32, ...), and says whether bf16
is no worse: its median time to every threshold no later than fp32's (a seed that never
reaches one counts as never) and no seed missing a threshold that fp32 reaches with that
seed, the rule for making bf16 a CPU's default (``workbench.ppo.precision``).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from workbench import metrics as M
from workbench.bench.common import print_table, write_result
from workbench.envs.facts import facts
from workbench.ppo.config import make_config
from workbench.ppo.precision import choose_precision
from workbench.ppo.run import launch, run_eval
from workbench.ppo.threads import best_torch_threads
from workbench.runtime import retain_freed_memory, torch_threads

DEFAULT_THRESHOLDS = (M.PERF, (0.5, 0.9))  # for envs whose folder names none
WINDOW = 20  # episodes in the "recent mean"


def recent_mean(curve, column: str, window: int = WINDOW):
    """Per row: mean of ``column`` over the most recent rows holding >= ``window`` episodes."""
    counts = curve[M.env(M.EPISODES)].fillna(0).to_numpy()
    values = curve[column].fillna(0).to_numpy()
    out = []
    for i in range(len(curve)):
        total = weight = 0.0
        for j in range(i, -1, -1):
            total += counts[j] * values[j]
            weight += counts[j]
            if weight >= window:
                break
        out.append(total / weight if weight >= window else float("nan"))
    return out


def first_reach(curve, column: str, target: float) -> dict | None:
    hit = curve[curve[column] >= target]
    if hit.empty:
        return None
    row = hit.iloc[0]
    return {M.WALL_TIME: float(row[M.WALL_TIME]), M.AGENT_STEPS: int(row[M.AGENT_STEPS])}


def median_times(results: list[dict], targets) -> dict:
    """Median over ``results`` of the time until the last-WINDOW mean reaches each target
    (inf for a seed that never does)."""
    out = {}
    for t in targets:
        hits = (r["reach_smoothed"][str(t)] for r in results)
        out[str(t)] = statistics.median(h[M.WALL_TIME] if h else float("inf") for h in hits)
    return out


def bf16_no_worse(results: list[dict], targets) -> dict:
    """The rule for bf16 as a default: per target, bf16's median time <= fp32's, and no
    seed where fp32 reaches the target and bf16 does not."""
    by = {p: [r for r in results if r["precision"] == p] for p in ("fp32", "bf16")}
    medians = {p: median_times(rs, targets) for p, rs in by.items()}
    reached = {
        p: {(r["seed"], str(t)) for r in rs for t in targets if r["reach_smoothed"][str(t)]}
        for p, rs in by.items()
    }
    missed = sorted(reached["fp32"] - reached["bf16"])
    faster = all(medians["bf16"][str(t)] <= medians["fp32"][str(t)] for t in targets)
    return {"medians": medians, "bf16_missed": missed, "no_worse": faster and not missed}


def run(
    name: str,
    seconds: float | None = None,
    seeds=(0,),
    eval_episodes: int = 64,
    precisions: tuple[str, ...] = (),
    **overrides,
) -> dict:
    bench = facts(name).bench
    metric = bench.get("metric", DEFAULT_THRESHOLDS[0])
    targets = tuple(bench.get("thresholds", DEFAULT_THRESHOLDS[1]))
    device = overrides.get("device", "cpu")
    flag = overrides.pop("bf16", None)
    # The entry point's precision, or each asked-for one in turn, seed by seed.
    choices = [choose_precision(device, p == "bf16") for p in precisions]
    choices = choices or [choose_precision(device, flag)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed, precision in ((s, p) for s in seeds for p in choices):
            print(f"seed {seed}: precision {precision}")
            cfg = make_config(name, seed=seed, eval_episodes=0, bf16=precision.bf16, **overrides)
            threads = cfg.torch_threads or best_torch_threads(cfg)
            with torch_threads(threads), retain_freed_memory():
                handle = launch(cfg, store=Path(tmp) / "learn.db")
                handle.wait(seconds)
                if not handle.done:
                    handle.stop()
                finished = handle.wait()
            curve = finished.curve()
            col = M.env(metric)
            curve["smooth"] = recent_mean(curve, col)
            final = run_eval(finished.policy, finished.config, eval_episodes, seed=seed + 10_000)
            final = {k: float(v) for k, v in final.items()}
            results.append(
                {
                    "seed": seed,
                    "precision": precision.name,
                    "precision_reason": precision.reason,
                    "status": finished.status,
                    "torch_threads": threads,
                    M.WALL_TIME: float(curve[M.WALL_TIME].iloc[-1]),
                    M.AGENT_STEPS: int(curve[M.AGENT_STEPS].iloc[-1]),
                    "mean_sps": float(curve[M.AGENT_STEPS].iloc[-1] / curve[M.WALL_TIME].iloc[-1]),
                    "reach": {str(t): first_reach(curve, col, t) for t in targets},
                    "reach_smoothed": {str(t): first_reach(curve, "smooth", t) for t in targets},
                    "final_train": float(curve["smooth"].iloc[-1]),
                    "eval": final,
                    "curve": curve[[M.AGENT_STEPS, M.WALL_TIME, col]].to_dict("list"),
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
                    r["precision"],
                    f"{metric} >= {t}",
                    f"{hit[M.WALL_TIME]:.1f}s" if hit else "-",
                    f"{hit[M.AGENT_STEPS] / 1e6:.2f}M" if hit else "-",
                    f"{smooth[M.WALL_TIME]:.1f}s" if smooth else "-",
                    f"{smooth[M.AGENT_STEPS] / 1e6:.2f}M" if smooth else "-",
                ]
            )
    print(
        f"learn {name}: time and agent steps until the per-epoch mean {metric} first "
        f"reaches each threshold, and the mean of the last {WINDOW}+ episodes"
    )
    print_table(
        [
            "seed",
            "prec",
            "target",
            "time",
            "steps",
            f"time (last {WINDOW})",
            f"steps (last {WINDOW})",
        ],
        rows,
    )
    for r in results:
        print(
            f"seed {r['seed']} {r['precision']}: {r['status']} after {r[M.WALL_TIME]:.0f}s "
            f"({r[M.AGENT_STEPS] / 1e6:.1f}M steps, {r['mean_sps'] / 1e3:.0f}k steps/s); "
            f"final train {metric} {r['final_train']:.3f}; eval on {eval_episodes} fresh "
            f"episodes: {metric} {r['eval'].get(metric, float('nan')):.3f}"
        )
    summary = {"median_eval": statistics.median(r["eval"].get(metric, 0) for r in results)}
    for p in dict.fromkeys(r["precision"] for r in results):
        times = median_times([r for r in results if r["precision"] == p], targets)
        key = "" if len(choices) == 1 else f"{p}_"
        for t in targets:
            summary[f"{key}median_time_to_{t}"] = times[str(t)]
            print(
                f"{p}: median over seeds, time until the last-{WINDOW} mean {metric} >= {t}: "
                f"{times[str(t)]:.2f}s"
            )
    if {r["precision"] for r in results} == {"fp32", "bf16"}:
        verdict = summary["bf16_vs_fp32"] = bf16_no_worse(results, targets)
        missed = ", ".join(f"seed {s} at {t}" for s, t in verdict["bf16_missed"]) or "none"
        print(
            f"bf16 {'is' if verdict['no_worse'] else 'is NOT'} no worse than fp32 "
            f"(medians no later at every threshold; thresholds bf16 missed: {missed})"
        )
    tag = "".join(f"_{k}-{v}" for k, v in sorted(overrides.get("env_params", {}).items()))
    write_result(
        f"learn_{name}{tag}",
        {
            "env": name,
            "metric": metric,
            "seconds": seconds,
            "overrides": overrides,
            "precisions": [c.name for c in choices],
            "summary": summary,
            "date_unix": time.time(),
            "results": results,
        },
    )
    return {"results": results}
