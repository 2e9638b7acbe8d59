"""The peers ``bench sweep`` compares our sweeper with: random search, Optuna (TPE and
GPSampler, both with two objectives), scikit-optimize's ``gp_minimize`` (score only), BoTorch
(qLogNEHVI) and PufferLib's Protein (loaded from a path, never vendored).

Each ``run_<method>(problem, ledger, seed, cap)`` asks its optimizer for parameters, runs them
through ``ledger`` (``workbench.bench.sweep.Ledger``: it charges the budget and records what
was seen) until the ledger is exhausted or ``cap`` trials ran, and returns notes for the output.
Peers are optional (``pip install workbench[bench]``): they are imported inside the functions
that use them, and ``availability`` says why one cannot run here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from workbench.bench.sweep_problems import (
    Problem,
    constraint_margins,
    decode,
    encode,
    levels,
    rows,
)

PEERS = {  # method -> the modules it needs
    "tpe": ("optuna",),
    "optuna_gp": ("optuna", "scipy", "torch"),
    "skopt": ("skopt",),
    "botorch": ("botorch", "gpytorch"),
}


@contextlib.contextmanager
def quiet():
    """Peers print progress and warn about their numerics; the table is the output."""
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


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


# ---- random search ---------------------------------------------------------------------------


def random_feasible(space: dict, constraints, rng: np.random.Generator) -> dict:
    """A uniform draw from the unit box, redrawn until the constraints hold."""
    for _ in range(10_000):
        params = rows(space, decode(space, rng.random((1, len(space)))))[0]
        if not constraints or np.all(constraint_margins(constraints, params) <= 0):
            return params
    raise RuntimeError(f"no point meets {list(constraints)} in 10,000 random draws")


def sample_feasible(problem: Problem, rng: np.random.Generator) -> dict:
    return random_feasible(problem.space, problem.constraints, rng)


def run_random(problem, ledger, seed, cap):
    rng = np.random.default_rng(seed)
    while not ledger.exhausted and len(ledger.trials) < cap:
        ledger.trial(sample_feasible(problem, rng))
    return {}


# ---- Optuna ----------------------------------------------------------------------------------


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


# ---- scikit-optimize and BoTorch ------------------------------------------------------------


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

    with quiet():
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
            with quiet():
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            acq = qLogNoisyExpectedHypervolumeImprovement(
                model,
                ref_point=infer_reference_point(y),
                X_baseline=x,
                prune_baseline=True,
                sampler=SobolQMCNormalSampler(torch.Size([64]), seed=seed + len(xs)),
            )
            with quiet():
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
        with quiet():
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
                with quiet():
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
        with quiet():
            searcher.observe(at, score, cost)
        return False

    while not ledger.exhausted and len(ledger.trials) < cap:
        with quiet():
            raw, _ = searcher.suggest(None)
        params = clean(raw)
        out = ledger.trial(params, on_point)
        if out.failed:
            with quiet():
                searcher.observe(params, problem.score_floor, out.cost, is_failure=True)
    return {"file": str(protein)}


RUNNERS = {
    "random": run_random,
    "tpe": run_tpe,
    "optuna_gp": run_optuna_gp,
    "skopt": run_skopt,
    "botorch": run_botorch,
    "protein": run_protein,
}
