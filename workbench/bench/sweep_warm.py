"""``python -m workbench bench sweep-warm``: what a warm start buys on the bench's RL problem.

For each seed: a cold sweep spends the budget (30 default runs by default); a second sweep,
with another seed and another noise stream, starts from the first one's observations
(``Sweeper.observe(..., prior=True)``, what ``workbench.sweep(warm_start=[...])`` feeds) and
spends the same budget. Reported: the share of the budget at which the warm sweep's own
trials reach the cold sweep's final hypervolume (target: at most a third), and both
sweeps' hypervolume ratios at the end. Trials are charged and credited as in
``bench sweep`` (curve points included).
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

from workbench.bench.common import machine, print_table, write_result
from workbench.bench.sweep import Ledger, at_budget
from workbench.bench.sweep_problems import PROBLEMS


def _run(problem, budget: float, seed: int, prior: list | None = None):
    """One sweep on ``problem``: (its ledger, every observation it made)."""
    from workbench.sweep import Sweeper

    ledger = Ledger(problem, budget, np.random.default_rng([seed, 2024]))
    sw = Sweeper(problem.space, constraints=problem.constraints, seed=seed, length=problem.length)
    for params, score, cost, failed in prior or ():
        sw.observe(params, score, cost, failed=failed, prior=True)
    seen = []

    def on_point(at, score, cost, frac):
        sw.observe(at, score, cost)
        seen.append((at, score, cost, False))
        if frac >= 1.0:
            return False
        stop, _ = sw.should_stop(score, cost, target_cost=cost / frac)
        return bool(stop)

    while not ledger.exhausted:
        params = sw.suggest()
        out = ledger.trial(params, on_point)
        if out.failed:
            sw.observe(params, math.nan, out.cost, failed=True, error=out.error)
            seen.append((params, math.nan, out.cost, True))
    return ledger, seen


def first_reach(problem, trials: list, budget: float, target: float, steps: int = 60) -> float:
    """The smallest share of ``budget`` at which ``trials`` reach hypervolume ``target``
    (checked at ``steps`` even shares); inf if never."""
    for k in range(1, steps + 1):
        share = k / steps
        credited = at_budget(trials, share * budget, curve_credit=True)["credited"]
        if problem.hv_ratio(credited) >= target - 1e-12:
            return share
    return math.inf


def run(seeds: int = 3, budget: float = 30.0, problem_name: str = "rl") -> dict:
    problem = PROBLEMS[problem_name]()
    spend = budget * problem.true_cost(problem.default_params)
    rows, runs = [], []
    start = time.perf_counter()
    for seed in range(seeds):
        cold, seen = _run(problem, spend, seed)
        cold_hv = problem.hv_ratio(at_budget(cold.trials, spend, True)["credited"])
        warm, _ = _run(problem, spend, seed + 1000, prior=seen)
        warm_hv = problem.hv_ratio(at_budget(warm.trials, spend, True)["credited"])
        share = first_reach(problem, warm.trials, spend, cold_hv)
        runs.append(
            {"seed": seed, "cold_hv": cold_hv, "warm_hv": warm_hv, "share_to_cold_hv": share}
        )
        rows.append([seed, f"{cold_hv:.3f}", f"{warm_hv:.3f}", _share(share)])
    median_share = statistics.median(r["share_to_cold_hv"] for r in runs)
    rows.append(
        [
            "median",
            f"{statistics.median(r['cold_hv'] for r in runs):.3f}",
            f"{statistics.median(r['warm_hv'] for r in runs):.3f}",
            _share(median_share),
        ]
    )
    print(f"warm start on the {problem_name} problem at {budget:g}x the default run's cost")
    print_table(["seed", "cold hv", "warm hv", "budget share to cold hv"], rows)
    payload = {
        "machine": machine(),
        "problem": problem_name,
        "budget_default_runs": budget,
        "runs": runs,
        "median_share_to_cold_hv": median_share,
        "target_share": 1 / 3,
        "wall_s": time.perf_counter() - start,
    }
    path = write_result("sweep_warm", payload)
    print(f"wrote {path}")
    return payload


def _share(share: float) -> str:
    return "never" if math.isinf(share) else f"{share:.2f}"
