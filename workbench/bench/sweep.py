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

Peers are optional (``pip install workbench[bench]``) and imported inside the functions
that use them; a missing one is reported as skipped.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import os
import statistics
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.bench.common import print_table, write_result
from workbench.bench.sweep_problems import (
    PROBLEMS,
    Problem,
    constraint_margins,
    decode,
    encode,
    hypervolume,
    levels,
    rows,
)

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
PEERS = {  # method -> the modules it needs
    "tpe": ("optuna",),
    "optuna_gp": ("optuna", "scipy", "torch"),
    "skopt": ("skopt",),
    "botorch": ("botorch", "gpytorch"),
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


def hv_ratio(problem: Problem, points: list) -> float:
    if not points:
        return 0.0
    cost, score = np.array(points, dtype=float).T
    return hypervolume(np.log(cost), score, problem.reference()) / problem.true_hypervolume()


# ---- sampling the space ----------------------------------------------------------------------


def random_feasible(space: dict, constraints, rng: np.random.Generator) -> dict:
    """A uniform draw from the unit box, redrawn until the constraints hold."""
    for _ in range(10_000):
        params = rows(space, decode(space, rng.random((1, len(space)))))[0]
        if not constraints or np.all(constraint_margins(constraints, params) <= 0):
            return params
    raise RuntimeError(f"no point meets {list(constraints)} in 10,000 random draws")


def sample_feasible(problem: Problem, rng: np.random.Generator) -> dict:
    return random_feasible(problem.space, problem.constraints, rng)


class StandInSweeper:
    """Random search behind the Sweeper API, used while ``workbench.sweep`` is missing."""

    def __init__(self, space, constraints=(), seed=0, max_cost=None, fixed=None, functions=None):
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


# ---- the methods -----------------------------------------------------------------------------
# Each runs trials through ``ledger`` until it is exhausted or ``cap`` trials ran, and
# returns notes for the output.


def run_random(problem, ledger, seed, cap):
    rng = np.random.default_rng(seed)
    while not ledger.exhausted and len(ledger.trials) < cap:
        ledger.trial(sample_feasible(problem, rng))
    return {}


def run_ours(problem, ledger, seed, cap, sweeper_cls=None):
    cls, label = (sweeper_cls, sweeper_cls.__name__) if sweeper_cls else load_sweeper()
    sw = cls(problem.space, constraints=problem.constraints, seed=seed)
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


def _optuna_params(trial, space: dict) -> dict:
    """Our kinds on Optuna's: logit as a float on the logit scale, pow2 as an int exponent."""
    params = {}
    for name, spec in space.items():
        kind, lo, hi = spec["kind"], spec.get("min"), spec.get("max")
        if kind == "linear":
            params[name] = trial.suggest_float(name, lo, hi)
        elif kind == "log":
            params[name] = trial.suggest_float(name, lo, hi, log=True)
        elif kind == "logit":
            z = trial.suggest_float(f"logit({name})", _logit(lo), _logit(hi))
            params[name] = float(np.clip(1 / (1 + math.exp(-z)), lo, hi))
        elif kind == "pow2":
            e = trial.suggest_int(f"log2({name})", round(math.log2(lo)), round(math.log2(hi)))
            params[name] = 2**e
        elif kind == "int":
            params[name] = trial.suggest_int(name, int(lo), int(hi))
        else:
            params[name] = trial.suggest_categorical(name, list(spec["values"]))
    return params


def _logit(x: float) -> float:
    return math.log(x) - math.log1p(-x)


def _run_optuna(problem, ledger, seed, cap, sampler):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    while not ledger.exhausted and len(ledger.trials) < cap:
        trial = study.ask()
        params = _optuna_params(trial, problem.space)
        if problem.constraints:
            margins = constraint_margins(problem.constraints, params)
            if hasattr(trial, "set_constraint"):  # Optuna >= 5
                for i, m in enumerate(margins):
                    trial.set_constraint(f"c{i}", float(m))
            else:
                trial.set_user_attr("constraints", [float(m) for m in margins])
        out = ledger.trial(params)
        if out.status == "constraint":  # completed, infeasible by its constraint values
            study.tell(trial, [math.log(out.cost), problem.score_floor])
        elif out.status in ("finished", "stopped"):
            study.tell(trial, [math.log(out.cost), out.score])
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return {}


def _constraints_kwargs(problem) -> dict:
    """Soft constraints: Optuna >= 5 reads ``Trial.set_constraint``; older ones need
    ``constraints_func``."""
    import optuna

    if not problem.constraints or hasattr(optuna.trial.Trial, "set_constraint"):
        return {}
    return {"constraints_func": lambda frozen: frozen.user_attrs["constraints"]}


def run_tpe(problem, ledger, seed, cap):
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed, **_constraints_kwargs(problem))
    return _run_optuna(problem, ledger, seed, cap, sampler)


def run_optuna_gp(problem, ledger, seed, cap):
    import optuna

    sampler = optuna.samplers.GPSampler(seed=seed, **_constraints_kwargs(problem))
    return _run_optuna(problem, ledger, seed, cap, sampler)


def run_skopt(problem, ledger, seed, cap):
    from skopt import gp_minimize
    from skopt.space import Categorical, Integer, Real

    dims = []
    for name, spec in problem.space.items():
        kind, lo, hi = spec["kind"], spec.get("min"), spec.get("max")
        if kind == "linear":
            dims.append(Real(lo, hi, name=name))
        elif kind == "log":
            dims.append(Real(lo, hi, prior="log-uniform", name=name))
        elif kind == "logit":
            dims.append(Real(_logit(lo), _logit(hi), name=name))
        elif kind == "pow2":
            dims.append(Integer(round(math.log2(lo)), round(math.log2(hi)), name=name))
        elif kind == "int":
            dims.append(Integer(int(lo), int(hi), name=name))
        else:
            dims.append(Categorical(list(spec["values"]), name=name))

    def to_params(x) -> dict:
        params = {}
        for v, (name, spec) in zip(x, problem.space.items(), strict=True):
            if spec["kind"] == "logit":
                v = float(np.clip(1 / (1 + math.exp(-v)), spec["min"], spec["max"]))
            elif spec["kind"] == "pow2":
                v = 2 ** int(v)
            elif spec["kind"] == "int":
                v = int(v)
            elif spec["kind"] != "categorical":
                v = float(v)
            params[name] = v
        return params

    def objective(x) -> float:
        out = ledger.trial(to_params(x))
        # skopt has no failed state: a failure is the worst score, the usual penalty.
        return -out.score if out.status == "finished" else -problem.score_floor

    def feasible(x) -> bool:  # skopt filters its candidates with it
        return bool(problem.feasible(to_params(x)))

    with _quiet():
        gp_minimize(
            objective,
            dims,
            n_calls=cap,
            n_initial_points=10,
            random_state=seed,
            callback=[lambda res: ledger.exhausted],
            space_constraint=feasible if problem.constraints else None,
        )
    return {}


def run_botorch(problem, ledger, seed, cap):
    import torch
    from botorch.acquisition.multi_objective import qLogNoisyExpectedHypervolumeImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from botorch.optim import optimize_acqf
    from botorch.sampling import SobolQMCNormalSampler
    from botorch.utils.multi_objective.hypervolume import infer_reference_point
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from torch.quasirandom import SobolEngine

    torch.manual_seed(seed)
    d = len(problem.space)
    n_init = 2 * (d + 1)
    init = SobolEngine(d, scramble=True, seed=seed).draw(n_init).double().numpy()
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).double()
    xs, ys = [], []  # ys: [-log cost, score], NaN score for a failure
    while not ledger.exhausted and len(ledger.trials) < cap:
        if len(xs) < n_init:
            u = init[len(xs)]
        else:
            # Two objectives, both maximized: -log(cost) and score. A failure gets the worst
            # of both seen so far, so it dominates nothing and teaches "not here" (its real
            # cost, tiny for a crash, would make it look like the cheap end of the front).
            x = torch.tensor(np.array(xs))
            y = np.array(ys)
            bad = np.isnan(y[:, 1])
            y[bad] = [y[:, 0].min(), problem.score_floor]
            y = torch.tensor(y)
            model = SingleTaskGP(x, y, outcome_transform=Standardize(m=2))
            with _quiet():
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            acq = qLogNoisyExpectedHypervolumeImprovement(
                model,
                ref_point=infer_reference_point(y),
                X_baseline=x,
                prune_baseline=True,
                sampler=SobolQMCNormalSampler(torch.Size([64]), seed=seed + len(xs)),
            )
            with _quiet():
                cand, _ = optimize_acqf(
                    acq, bounds, q=1, num_restarts=4, raw_samples=256, options={"maxiter": 100}
                )
            u = cand[0].detach().numpy()
        # Discrete parameters are rounded (to their bin) and the GP sees the rounded point.
        params = rows(problem.space, decode(problem.space, u[None, :]))[0]
        out = ledger.trial(params)
        if out.status == "cut":
            break
        xs.append(encode(problem.space, params))
        ys.append([-math.log(out.cost), out.score if out.status == "finished" else math.nan])
    return {}


# ---- PufferLib Protein, loaded by path ---------------------------------------------------

_PROTEIN_KIND = {
    "linear": "uniform",
    "log": "log_normal",
    "logit": "logit_normal",
    "pow2": "uniform_pow2",
    "int": "int_uniform",
}
# Protein's sweep config changed between versions: the metric as a name with a top-level
# goal, or as a dict holding the goal; some versions also require more top-level keys, which
# are added only when the constructor asks for them (KeyError).
_PROTEIN_STYLES = (
    {"method": "Protein", "metric": "score", "goal": "maximize"},
    {"method": "Protein", "metric": {"name": "score", "goal": "maximize"}},
)
_PROTEIN_EXTRA = {
    "metric_distribution": "linear",
    "early_stop_quantile": 0.3,
    "use_gpu": False,
    "prune_pareto": True,
}


def load_protein(path: str):
    """PufferLib's ``sweep.py`` module, imported from ``path`` (never vendored). When it
    cannot ``import pufferlib``, the checkout that holds it is put on ``sys.path``."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"--protein {path}: no such file")

    def load():
        spec = importlib.util.spec_from_file_location("_workbench_protein_sweep", path)
        module = importlib.util.module_from_spec(spec)
        with _quiet():
            spec.loader.exec_module(module)
        return module

    try:
        return load()
    except ModuleNotFoundError as e:
        if e.name != "pufferlib" or path.parent.name != "pufferlib":
            raise
        sys.path.insert(0, str(path.parent.parent))
        return load()


def _protein_config(problem: Problem, style: dict, extra: dict) -> dict:
    cfg = {**style, **extra}
    for name, spec in problem.space.items():
        if spec["kind"] not in _PROTEIN_KIND:
            raise ValueError(f"Protein has no {spec['kind']!r} distribution ({name})")
        cfg[name] = {
            "distribution": _PROTEIN_KIND[spec["kind"]],
            "min": spec["min"],
            "max": spec["max"],
            "mean": problem.default_params[name],
            "scale": "auto",
        }
    return cfg


def make_protein(module, problem: Problem, seed: int, max_cost: float):
    """A ``Protein`` for ``problem``, built through its public constructor whichever
    config style this version of the file takes."""
    import inspect
    import random

    random.seed(seed)
    np.random.seed(seed)
    with contextlib.suppress(ImportError):
        import torch

        torch.manual_seed(seed)
    wanted = {"max_suggestion_cost": max_cost, "use_gpu": False, "cost_param": problem.length}
    accepted = inspect.signature(module.Protein).parameters
    kwargs = {k: v for k, v in wanted.items() if k in accepted and v is not None}
    points = len(getattr(problem, "fractions", (1.0,)))
    defaults = {**_PROTEIN_EXTRA, "downsample": points}
    errors = []
    for style in _PROTEIN_STYLES:
        extra: dict = {}
        while True:
            try:
                with _quiet():
                    return module.Protein(_protein_config(problem, style, extra), **kwargs)
            except KeyError as e:
                key = e.args[0] if e.args else None
                if key in defaults and key not in extra:
                    extra[key] = defaults[key]
                    continue
                errors.append(f"KeyError: {e}")
            except (AssertionError, TypeError, ValueError) as e:
                errors.append(f"{type(e).__name__}: {e}")
            break
    raise RuntimeError(f"Protein accepted no sweep config: {'; '.join(errors)}")


def _flatten(d: dict, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def run_protein(problem, ledger, seed, cap, protein=None):
    module = load_protein(protein)
    # no cap of its own (the dearest run that finishes), and no hint of the budget
    searcher = make_protein(module, problem, seed, problem.worst_cost())

    def clean(raw: dict) -> dict:
        flat = _flatten(raw)
        params = {}
        for name, spec in problem.space.items():
            v = float(np.clip(float(flat[name]), spec["min"], spec["max"]))
            if levels(spec) is not None:
                v = round(v)
                if spec["kind"] == "pow2":
                    v = 2 ** round(math.log2(v))
            params[name] = v
        return params

    def on_point(at, score, cost, frac):
        with _quiet():
            searcher.observe(at, score, cost)
        return False

    while not ledger.exhausted and len(ledger.trials) < cap:
        with _quiet():
            raw, _ = searcher.suggest(None)
        params = clean(raw)
        out = ledger.trial(params, on_point)
        if out.failed:
            with _quiet():
                searcher.observe(params, problem.score_floor, out.cost, is_failure=True)
    return {"file": str(protein)}


RUNNERS = {
    "ours": run_ours,
    "random": run_random,
    "tpe": run_tpe,
    "optuna_gp": run_optuna_gp,
    "skopt": run_skopt,
    "botorch": run_botorch,
    "protein": run_protein,
}


@contextlib.contextmanager
def _quiet():
    """Peers print progress and warn about their numerics; the table is the output."""
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


# ---- one run, many runs ------------------------------------------------------------------


def availability(method: str, protein: str | None) -> str | None:
    """Why ``method`` cannot run here, or None."""
    if method == "protein":
        if not protein:
            return "skipped: pass --protein PATH_TO_pufferlib/sweep.py to include it"
        try:
            load_protein(protein)
        except Exception as e:
            return f"skipped: cannot load {protein}: {type(e).__name__}: {e}"
        return None
    for module in PEERS.get(method, ()):
        if importlib.util.find_spec(module) is None:
            return f"skipped: {module} is not installed (pip install workbench[bench])"
    return None


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
                "hv": hv_ratio(problem, a["credited"]),
                "hv_final": hv_ratio(problem, a["finals"]),
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
    """p50/p95 seconds of ``suggest()`` after feeding that many RL observations (random
    feasible trials, every curve point and failure); each timed suggestion is then
    observed once, as a user's loop would."""
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
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            params = sw.suggest()
            times.append(time.perf_counter() - t)
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
) -> dict:
    """Run the comparison, print the table, write ``sweep.json``; returns the payload.

    ``budgets`` are multiples of one full default run's cost; ``seeds`` an int (0..n-1) or
    a list; ``methods`` a subset of ``METHODS`` (default all); ``protein`` the path of
    PufferLib's ``sweep.py``; ``quick`` shrinks seeds, budgets, caps and latency counts
    for a smoke test; ``workers`` processes (default: 2 if the machine has them, 1 if quick).
    """
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
    for name in problems:  # the true fronts, once, before the workers need them
        PROBLEMS[name]().true_front()

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
    _print(summary, skipped, capped, latency, engine, results, wall)
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
            name: {
                "default_cost": PROBLEMS[name]().true_cost(PROBLEMS[name].default_params),
                "reference_log_cost_score": PROBLEMS[name]().reference(),
                "true_hypervolume": PROBLEMS[name]().true_hypervolume(),
                "true_front_points": len(PROBLEMS[name]().true_front()),
            }
            for name in problems
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
    write_result("sweep", payload)
    return payload


def _print(summary, skipped, capped, latency, engine, results, wall) -> None:
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
            ["observations", "p50 (s)", "p95 (s)"],
            [[int(n), f"{v['p50_s']:.3f}", f"{v['p95_s']:.3f}"] for n, v in latency.items()],
        )
    walls: dict = {}
    for r in results:
        walls.setdefault(r["method"], []).append(r["wall_s"])
    print(
        "wall per run (median s): "
        + ", ".join(f"{m} {statistics.median(v):.1f}" for m, v in walls.items())
    )
    print(f"total wall time: {wall / 60:.1f} min")
