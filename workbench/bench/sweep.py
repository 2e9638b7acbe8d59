"""``python -m workbench bench sweep``: our cost-aware sweeper against its peers.

Every method searches the same problems (``workbench/bench/sweep_problems.py``) until its
cumulative cost reaches the budget (a multiple of one full default run; the trial that
crosses it is cut there and only what it observed before counts). Each method runs once up
to the largest budget; the smaller budgets are read off the same run (no method is told
the budget, so its first B cost units are exactly a run with budget B).

Score: the hypervolume, in (log cost, score), of the noise-free values of what a method
found, over the true front's. Finished trials count for every method; sweepers that are
fed curve points (ours, Protein) also count each point as the shorter run it stands for.
``hv_final`` counts finished (or early-stopped) trials only, for every method alike.

This module is the harness: the budget ``Ledger``, our sweeper's runner, running jobs in
processes, the summary and the table. The peers' adapters live in ``sweep_peers``; they are
optional (``pip install workbench[bench]``) and a missing one is reported as skipped.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import statistics
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

from workbench.bench.common import print_table, write_result
from workbench.bench.sweep_peers import RUNNERS as PEER_RUNNERS
from workbench.bench.sweep_peers import availability, random_feasible, sample_feasible
from workbench.bench.sweep_problems import PROBLEMS, Problem

METHODS = ("ours", "random", "tpe", "optuna_gp", "skopt", "botorch", "protein")
LABELS = {
    "ours": "ours (Sweeper)",
    "random": "random search",
    "tpe": "Optuna TPE (2 obj)",
    "optuna_gp": "Optuna GPSampler (2 obj)",
    "skopt": "skopt gp_minimize (-score)",
    "botorch": "BoTorch qLogNEHVI",
    "protein": "PufferLib Protein",
}
# Trials per run for the peers whose cost per suggestion grows with the history, so that
# the full default run fits ~60 min on 2 cores; reported in the output when they bind.
CAPS = {"optuna_gp": 300, "skopt": 200, "botorch": 120, "protein": 300}
QUICK_CAPS = {"optuna_gp": 12, "skopt": 12, "botorch": 10, "protein": 12}
CURVE_METHODS = {"ours", "protein"}  # fed curve points, credited with them


# ---- the budget ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a method learns from one trial: ``status`` is "finished", "stopped" (by the
    method), "cut" (the budget ran out), or the failure ("oom", "nan", "constraint")."""

    status: str
    score: float  # the last noisy score observed (NaN when nothing finished)
    cost: float
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("oom", "nan", "constraint")


@dataclass
class Ledger:
    """Runs trials for a method and charges them to its budget. A trial's cost counts up
    to where it ended: finished, stopped by ``on_point``, failed, or cut at the budget."""

    problem: Problem
    budget: float
    rng: np.random.Generator
    spent: float = 0.0
    trials: list = field(default_factory=list)

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.budget * (1 - 1e-12)

    def trial(self, params: dict, on_point=None) -> Outcome:
        """Run ``params``; ``on_point(params_at, score, cost, fraction) -> stop?`` sees each
        curve point (the last one too, where stopping means nothing)."""
        p = self.problem
        start = self.spent
        curve = p.evaluate(params, self.rng)
        credited = []  # (cost so far, true cost, true score) of each point observed
        status, cost, score = "finished", 0.0, math.nan
        for frac, c, s in curve.points:
            if start + c > self.budget:
                status, cost = "cut", self.budget - start
                break
            cost = c
            if math.isnan(s):
                status = curve.error or "nan"
                break
            at = p.at_fraction(params, frac)
            credited.append((c, p.true_cost(at), p.true_score(at)))
            score = s
            if on_point is not None and on_point(at, s, c, frac) and frac < 1.0:
                status = "stopped"
                break
        self.spent = start + cost
        self.trials.append(
            {
                "start": start,
                "cost": cost,
                "status": status,
                "violated": curve.error == "constraint",
                "points": credited,
            }
        )
        if status not in ("finished", "stopped"):
            score = math.nan
        return Outcome(status, score, cost, curve.error)


def at_budget(trials: list, budget: float, curve_credit: bool) -> dict:
    """What a run had done when it reached ``budget``: the noise-free points it is credited
    with, the cost it spent, and how much of that went into failures."""
    spent = fail = 0.0
    n = violations = stopped = 0
    credited, finals = [], []
    for t in trials:
        if t["start"] >= budget:
            break
        charged = min(t["cost"], budget - t["start"])
        spent += charged
        n += 1
        violations += t["violated"]
        stopped += t["status"] == "stopped"
        if t["status"] in ("oom", "nan", "constraint"):
            fail += charged
        seen = [pt for pt in t["points"] if t["start"] + pt[0] <= budget]
        if curve_credit:
            credited += [pt[1:] for pt in seen]
        if t["status"] in ("finished", "stopped") and t["start"] + t["cost"] <= budget:
            finals.append(t["points"][-1][1:])
    if not curve_credit:
        credited = finals
    return {
        "credited": credited,
        "finals": finals,
        "spent": spent,
        "fail_cost": fail,
        "trials": n,
        "violations": violations,
        "stopped": stopped,
    }


class StandInSweeper:
    """Random search behind the Sweeper API, used while ``workbench.sweep`` is missing."""

    def __init__(
        self, space, constraints=(), seed=0, max_cost=None, fixed=None, functions=None, length=None
    ):
        self.space = space
        self.constraints = tuple(constraints)
        self.rng = np.random.default_rng(seed)
        self.observations = []

    def suggest(self) -> dict:
        return random_feasible(self.space, self.constraints, self.rng)

    def observe(self, params, score, cost, failed=False, error=None):
        self.observations.append((dict(params), score, cost, failed, error))

    def pending(self, params):
        pass

    def forget(self, params):
        pass

    def front(self):
        import pandas as pd

        rows_ = [
            {"cost": c, "score": s, **p} for p, s, c, failed, _ in self.observations if not failed
        ]
        return pd.DataFrame(rows_)

    def should_stop(self, score, cost, target_cost=None):
        return False, ""


def load_sweeper():
    """(Sweeper class, label): the real engine when it imports, else the stand-in."""
    try:
        from workbench.sweep import Sweeper
    except ImportError as e:
        return StandInSweeper, f"stand-in random search (workbench.sweep: {e})"
    return Sweeper, "workbench.sweep.Sweeper"


# ---- our sweeper (the peers are in ``sweep_peers``) -----------------------------------------
# Each method runs trials through ``ledger`` until it is exhausted or ``cap`` trials ran, and
# returns notes for the output.


def run_ours(problem, ledger, seed, cap, sweeper_cls=None):
    cls, label = (sweeper_cls, sweeper_cls.__name__) if sweeper_cls else load_sweeper()
    sw = cls(problem.space, constraints=problem.constraints, seed=seed, length=problem.length)
    stops = 0

    def on_point(at, score, cost, frac):
        nonlocal stops
        sw.observe(at, score, cost)
        if frac >= 1.0:
            return False
        # The run's planned cost, extrapolated from where it is (the engine is not told
        # the problem's cost model).
        stop, _ = sw.should_stop(score, cost, target_cost=cost / frac)
        stops += bool(stop)
        return bool(stop)

    while not ledger.exhausted and len(ledger.trials) < cap:
        params = sw.suggest()
        out = ledger.trial(params, on_point)
        if out.failed:
            sw.observe(params, math.nan, out.cost, failed=True, error=out.error)
    return {"engine": label, "early_stops": stops}


RUNNERS = {"ours": run_ours, **PEER_RUNNERS}


# ---- one run, many runs ------------------------------------------------------------------


def run_one(job: dict) -> dict:
    """One method on one problem with one seed, up to the largest budget."""
    problem = PROBLEMS[job["problem"]]()
    default_cost = problem.true_cost(problem.default_params)
    budget = job["budget"] * default_cost
    ledger = Ledger(problem, budget, np.random.default_rng([job["seed"], 2024]))
    method = job["method"]
    kwargs = {"protein": job["protein"]} if method == "protein" else {}
    start = time.perf_counter()
    notes, error = {}, None
    try:
        with warnings.catch_warnings():  # peers warn about their numerics at every step
            warnings.simplefilter("ignore")
            notes = RUNNERS[method](problem, ledger, job["seed"], job["cap"], **kwargs) or {}
    except Exception as e:
        error = f"{type(e).__name__}: {e}\n" + traceback.format_exc(limit=4)
    return {
        **{k: job[k] for k in ("problem", "method", "seed")},
        "default_cost": default_cost,
        "budget": budget,
        "spent": ledger.spent,
        "capped": len(ledger.trials) >= job["cap"] and not ledger.exhausted,
        "wall_s": time.perf_counter() - start,
        "trials": ledger.trials,
        "notes": notes,
        "error": error,
    }


def _worker_init():
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(1)


def _progress(done: int, total: int, r: dict) -> None:
    print(
        f"[{done}/{total}] {r['method']} {r['problem']} seed {r['seed']}: "
        f"{len(r['trials'])} trials, {r['wall_s']:.0f} s" + (" (error)" if r["error"] else ""),
        file=sys.stderr,
        flush=True,
    )


def run_jobs(jobs: list[dict], workers: int, progress: bool = True) -> list[dict]:
    out: list = [None] * len(jobs)
    if workers <= 1:
        for i, job in enumerate(jobs):
            out[i] = run_one(job)
            if progress:
                _progress(i + 1, len(jobs), out[i])
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = mp.get_context("spawn")  # no fork after torch is loaded
    # Slow methods first so the workers finish together.
    order = sorted(range(len(jobs)), key=lambda i: jobs[i]["method"] not in CAPS)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
        futures = {pool.submit(run_one, jobs[i]): i for i in order}
        for done, f in enumerate(as_completed(futures), 1):
            out[futures[f]] = f.result()
            if progress:
                _progress(done, len(jobs), out[futures[f]])
    return out


def summarize_runs(results: list[dict], budgets) -> list[dict]:
    """Per (problem, budget, method): median and spread over seeds."""
    groups: dict = {}
    for r in results:
        problem = PROBLEMS[r["problem"]]()
        for b in budgets:
            a = at_budget(r["trials"], b * r["default_cost"], r["method"] in CURVE_METHODS)
            row = {
                "seed": r["seed"],
                "hv": problem.hv_ratio(a["credited"]),
                "hv_final": problem.hv_ratio(a["finals"]),
                "trials": a["trials"],
                "used": a["spent"] / (b * r["default_cost"]),
                "fail_share": a["fail_cost"] / a["spent"] if a["spent"] else 0.0,
                "violations": a["violations"],
                "early_stops": a["stopped"],
                "wall_s": r["wall_s"],
                "notes": r["notes"],
                "error": r["error"],
            }
            groups.setdefault((r["problem"], b, r["method"]), []).append(row)
    summary = []
    for (problem, b, method), runs in groups.items():
        hv = [x["hv"] for x in runs]
        q1, q3 = np.percentile(hv, [25, 75])
        summary.append(
            {
                "problem": problem,
                "budget": b,
                "method": method,
                "hv_median": statistics.median(hv),
                "hv_min": min(hv),
                "hv_max": max(hv),
                "hv_iqr": float(q3 - q1),
                "hv_final_median": statistics.median(x["hv_final"] for x in runs),
                "trials_median": statistics.median(x["trials"] for x in runs),
                "early_stops_median": statistics.median(x["early_stops"] for x in runs),
                "used_median": statistics.median(x["used"] for x in runs),
                "fail_share_median": statistics.median(x["fail_share"] for x in runs),
                "violations": sum(x["violations"] for x in runs),
                "errors": sum(x["error"] is not None for x in runs),
                "runs": runs,
            }
        )
    return summary


def suggest_latency(sweeper_cls, counts=(100, 500, 2000), repeats: int = 20, seed: int = 0):
    """p50/p95 seconds (wall-clock and CPU) of ``suggest()`` after feeding that many RL
    observations (random feasible trials, every curve point and failure); each timed
    suggestion is then observed once, as a user's loop would."""
    problem = PROBLEMS["rl"]()
    rng = np.random.default_rng(seed)
    sw = sweeper_cls(problem.space, constraints=problem.constraints, seed=seed)
    fed, out = 0, {}
    for target in counts:
        while fed < target:
            params = sample_feasible(problem, rng)
            curve = problem.evaluate(params, rng)
            for frac, cost, score in curve.points:
                if fed >= target:
                    break
                if math.isnan(score):
                    sw.observe(params, math.nan, cost, failed=True, error=curve.error)
                else:
                    sw.observe(problem.at_fraction(params, frac), score, cost)
                fed += 1
        times, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            params = sw.suggest()
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            curve = problem.evaluate(params, rng)
            frac, cost, score = curve.points[-1]
            if curve.failed:
                sw.observe(params, math.nan, cost, failed=True, error=curve.error)
            else:
                sw.observe(problem.at_fraction(params, frac), score, cost)
        fed += repeats
        out[str(target)] = {
            "p50_s": float(np.percentile(times, 50)),
            "p95_s": float(np.percentile(times, 95)),
            # CPU seconds: what the wall-clock figures would be on an idle core
            "p50_cpu_s": float(np.percentile(cpu, 50)),
            "p95_cpu_s": float(np.percentile(cpu, 95)),
            "repeats": repeats,
        }
    return out


def run(
    problems=("rl", "zdt1"),
    budgets=(10, 30),
    seeds=5,
    methods=None,
    protein=None,
    quick=False,
    workers=None,
    name="sweep",
) -> dict:
    """Run the comparison, print the table, write ``<name>.json``; returns the payload.

    ``budgets`` are multiples of one full default run's cost; ``seeds`` an int (0..n-1) or
    a list; ``methods`` a subset of ``METHODS`` (default all); ``protein`` the path of
    PufferLib's ``sweep.py``; ``quick`` shrinks seeds, budgets, caps and latency counts
    for a smoke test; ``workers`` processes (default: 2 if the machine has them, 1 if quick);
    ``name`` the results file's name (a plain word: letters, digits, ``_`` and ``-``).
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", str(name)):
        raise ValueError(
            f"name must be letters, digits, '_' or '-' (a file name), got {name!r}; "
            "e.g. 'sweep_budgets'"
        )
    t0 = time.perf_counter()
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    budgets = tuple(sorted(budgets))
    caps = dict(CAPS)
    latency_counts, latency_repeats = (100, 500, 2000), 20
    if quick:
        seeds = seeds[:2]
        budgets = tuple(sorted({max(1, round(b / 5)) for b in budgets}))
        caps = dict(QUICK_CAPS)
        latency_counts, latency_repeats = (20, 50), 3
    if workers is None:
        workers = 1 if quick else min(2, os.cpu_count() or 1)
    methods = list(methods or METHODS)
    unknown = [m for m in methods if m not in RUNNERS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        raise ValueError(f"unknown problems {unknown}; choose from {list(PROBLEMS)}")

    sweeper_cls, engine = load_sweeper()
    skipped = {m: why for m in methods if (why := availability(m, protein))}
    active = [m for m in methods if m not in skipped]
    for problem in problems:  # the true fronts, once, before the workers need them
        PROBLEMS[problem]().true_front()
    perfect = {p: perfect_knowledge(PROBLEMS[p](), budgets) for p in problems}

    jobs = [
        {
            "problem": p,
            "method": m,
            "seed": s,
            "budget": budgets[-1],
            "cap": caps.get(m, 1_000_000),
            "protein": protein,
        }
        for p in problems
        for m in active
        for s in seeds
    ]
    results = run_jobs(jobs, workers, progress=not quick)
    summary = summarize_runs(results, budgets)
    latency = (
        suggest_latency(sweeper_cls, latency_counts, latency_repeats) if "ours" in active else {}
    )
    wall = time.perf_counter() - t0

    capped = {
        m: caps[m]
        for m in active
        if m in caps and any(r["capped"] for r in results if r["method"] == m)
    }
    _print(summary, skipped, capped, latency, engine, results, wall, perfect)
    payload = {
        "config": {
            "problems": list(problems),
            "budgets_x_default_run": list(budgets),
            "seeds": seeds,
            "methods": methods,
            "quick": quick,
            "workers": workers,
            "caps_trials": {m: caps[m] for m in active if m in caps},
        },
        "engine": engine,
        "problems": {
            problem: {
                "default_cost": PROBLEMS[problem]().true_cost(PROBLEMS[problem].default_params),
                "reference_log_cost_score": PROBLEMS[problem]().reference(),
                "true_hypervolume": PROBLEMS[problem]().true_hypervolume(),
                "true_front_points": len(PROBLEMS[problem]().true_front()),
                "perfect_knowledge_hv_ratio": {str(b): v for b, v in perfect[problem].items()},
            }
            for problem in problems
        },
        "skipped": skipped,
        "capped": capped,
        "summary": summary,
        "errors": [
            {k: r[k] for k in ("problem", "method", "seed", "error")} for r in results if r["error"]
        ],
        "ours_suggest_latency": latency,
        "wall_s": wall,
    }
    write_result(name, payload)
    return payload


def perfect_knowledge(problem: Problem, budgets) -> dict:
    """Per budget (multiples of the default run's cost), the hypervolume ratio that runs of
    the true front's own configurations reach within it (``Problem.oracle``): where a
    sweeper would be if learning the problem cost nothing."""
    default_cost = problem.true_cost(problem.default_params)
    return {b: problem.oracle(b * default_cost)["hv_ratio"] for b in budgets}


def _print(summary, skipped, capped, latency, engine, results, wall, perfect=None) -> None:
    headers = ["problem", "budget", "method", "HV ratio", "min-max", "IQR", "HV final",
               "trials", "stopped", "used", "fail cost", "violations", "errors"]  # fmt: skip
    table = []
    for s in sorted(summary, key=lambda s: (s["problem"], s["budget"], -s["hv_median"])):
        violations = str(s["violations"])
        if s["method"] == "ours" and s["violations"]:
            violations += " (!)"  # the engine promises feasible suggestions
        table.append(
            [
                s["problem"],
                f"{s['budget']}x",
                LABELS[s["method"]],
                f"{s['hv_median']:.3f}",
                f"{s['hv_min']:.3f}-{s['hv_max']:.3f}",
                f"{s['hv_iqr']:.3f}",
                f"{s['hv_final_median']:.3f}",
                s["trials_median"],
                s["early_stops_median"],
                f"{s['used_median']:.0%}",
                f"{s['fail_share_median']:.0%}",
                violations,
                s["errors"],
            ]
        )
    seeds = len({r["seed"] for r in results})
    print(f"ours = {engine}; {seeds} seeds; budget = multiples of one full default run's cost")
    print_table(headers, table)
    print(
        "HV ratio: hypervolume in (log cost, score) of the noise-free values found over the "
        "true front's, median over seeds (curve points count for ours and Protein); "
        "HV final: finished trials only, every method alike; trials, stopped (early, by the "
        "method), used (budget spent) and fail cost (share of it in OOM/NaN/constraint "
        "failures): medians; "
        "violations: infeasible suggestions, all seeds."
    )
    if perfect:
        print(
            "perfect knowledge (runs of the true front's own configurations, the best choice "
            "within the budget; learning for free): "
            + "; ".join(
                f"{name} " + ", ".join(f"{b}x {v:.3f}" for b, v in by_budget.items())
                for name, by_budget in perfect.items()
            )
        )
    for m, cap in capped.items():
        print(f"{LABELS[m]}: capped at {cap} trials per run to fit this machine (see 'used').")
    for m, why in skipped.items():
        print(f"{LABELS[m]}: {why}")
    for r in results:
        if r["error"]:
            print(f"{r['method']} {r['problem']} seed {r['seed']}: {r['error'].splitlines()[0]}")
    if latency:
        print("ours: suggest() latency after n observations of the RL problem")
        print_table(
            ["observations", "p50 (s)", "p95 (s)", "p50 CPU (s)", "p95 CPU (s)"],
            [
                [int(n), *(f"{v[k]:.3f}" for k in ("p50_s", "p95_s", "p50_cpu_s", "p95_cpu_s"))]
                for n, v in latency.items()
            ],
        )
    walls: dict = {}
    for r in results:
        walls.setdefault(r["method"], []).append(r["wall_s"])
    print(
        "wall per run (median s): "
        + ", ".join(f"{m} {statistics.median(v):.1f}" for m, v in walls.items())
    )
    print(f"total wall time: {wall / 60:.1f} min")
