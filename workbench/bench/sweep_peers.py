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
import inspect
import io
import math
import re
import sys
import types
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
from workbench.runtime import torch_threads

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
            return f"skipped: cannot load Protein: {type(e).__name__}: {e}"
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
# Written against PufferLib 3.0's ``pufferlib/sweep.py`` (the 3.0.0 release). Its API:
#
# - ``Protein(sweep_config, max_suggestion_cost=3600, ...)``. The config is PufferLib's
#   ``[sweep]`` section as a dict: top-level ``method``, ``metric`` (a name), ``goal``
#   ("maximize") and ``downsample`` (curve points per run), and one dict per parameter with
#   ``distribution`` (uniform, int_uniform, uniform_pow2, log_normal, logit_normal), ``min``,
#   ``max``, ``mean`` (the search centre: its first suggestion) and ``scale`` ("auto": half
#   the normalized range). It needs ``pyro-ppl`` (two pyro GPs, score and log cost).
# - ``suggest(fill) -> (params, info)``: ``fill=None`` gives a fresh dict of the parameters.
# - ``observe(hypers, score, cost, is_failure=False)``. PufferLib's own sweep loop calls it
#   once per curve point (``downsample`` of them), the length parameter set to the steps
#   done and the cost to the time so far; the bench does the same through ``on_point``.
#   3.0 keeps every observation as a success, ``is_failure`` included, and has no failure
#   model (its loop never reports a failed run: a crash ends the sweep), so a failure is not
#   fed to it: at its charged cost (a crash at start-up is cheaper than any run that trains)
#   and the worst score it would sit on Protein's front and become a search centre. Later
#   versions that keep failures apart (``failure_observations``) are told about them.
#
# It has no constraints: its infeasible suggestions run, fail at start-up and are charged
# and counted, as BoTorch's are. The file imports ``pufferlib`` for one helper,
# ``pufferlib.unroll_nested_dict`` (a nested dict's items with "a/b" keys, used to read the
# params given to ``observe``); unless the file uses more of the package, that name is given
# by a stand-in module, so neither PufferLib nor its compiled environments are installed.

_PROTEIN_KIND = {
    "linear": "uniform",
    "log": "log_normal",
    "logit": "logit_normal",
    "pow2": "uniform_pow2",
    "int": "int_uniform",
}
# Protein's sweep config changed between versions: 3.0 takes the metric as a name with a
# top-level goal; some later ones a dict holding the goal, or require more top-level keys,
# which are added only when the constructor asks for them (KeyError).
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
_PUFFERLIB_STAND_IN = {"unroll_nested_dict"}  # what the stand-in ``pufferlib`` provides
_PROTEINS: dict = {}  # (path, mtime) -> loaded module, once per process


def _protein_path(path) -> Path:
    """The ``sweep.py`` that ``--protein`` names: the file itself, or a PufferLib checkout
    (or its ``pufferlib`` folder) holding it."""
    if not path:
        raise ValueError("--protein: no path given (PufferLib's pufferlib/sweep.py)")
    given = Path(path).expanduser()
    p = given.resolve()
    if p.is_dir():
        for candidate in (p / "pufferlib" / "sweep.py", p / "sweep.py"):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(
            f"--protein {path!r}: {p} is a folder with no sweep.py or pufferlib/sweep.py"
        )
    if not p.exists():
        raise FileNotFoundError(f"--protein {path!r}: no such file ({p})")
    if not p.is_file() or p.suffix != ".py":
        raise ValueError(f"--protein {path!r}: expected PufferLib's pufferlib/sweep.py")
    return p


def _pufferlib_stand_in():
    module = types.ModuleType("pufferlib")
    module.__doc__ = "workbench's stand-in for the one pufferlib helper sweep.py uses"
    module.unroll_nested_dict = lambda d: iter(_flatten(d).items())
    return module


def load_protein(path: str):
    """PufferLib's ``sweep.py`` module, imported from ``path`` (never vendored). If the file
    uses no more of ``pufferlib`` than ``unroll_nested_dict``, a stand-in provides it;
    otherwise the real package is imported (installed, or the checkout holding the file is
    put on ``sys.path``). Raises with the path given when it is not a usable Protein."""
    p = _protein_path(path)
    key = (str(p), p.stat().st_mtime_ns)
    if key in _PROTEINS:
        return _PROTEINS[key]
    source = p.read_text(errors="replace")
    if not re.search(r"^\s*class\s+Protein\b", source, re.MULTILINE):
        raise ValueError(f"--protein {path!r}: {p} defines no class Protein")
    uses = set(re.findall(r"\bpufferlib\.(\w+)", source))
    stand_in = uses <= _PUFFERLIB_STAND_IN
    if not stand_in and importlib.util.find_spec("pufferlib") is None:
        if p.parent.name == "pufferlib" and (p.parent / "__init__.py").is_file():
            sys.path.insert(0, str(p.parent.parent))
        else:
            raise ImportError(
                f"--protein {path!r}: the file uses pufferlib.{', pufferlib.'.join(sorted(uses))}"
                " and pufferlib is not installed; pass the sweep.py of a PufferLib checkout"
            )

    spec = importlib.util.spec_from_file_location("_workbench_protein_sweep", p)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("pufferlib")
    if stand_in:
        sys.modules["pufferlib"] = _pufferlib_stand_in()
    try:
        with quiet():
            spec.loader.exec_module(module)
    except ModuleNotFoundError as e:
        raise ImportError(
            f"--protein {path!r}: it needs the module {e.name!r}"
            + (" (pip install pyro-ppl)" if (e.name or "").startswith("pyro") else "")
        ) from e
    finally:
        if stand_in:
            if saved is None:
                sys.modules.pop("pufferlib", None)
            else:
                sys.modules["pufferlib"] = saved
    if not isinstance(getattr(module, "Protein", None), type):
        raise ValueError(f"--protein {path!r}: {p} defines no class Protein")
    _PROTEINS[key] = module
    return module


def _protein_config(problem: Problem, style: dict, extra: dict) -> dict:
    cfg = {**style, **extra}
    for name, spec in problem.space.items():
        if spec["kind"] not in _PROTEIN_KIND:
            raise ValueError(f"Protein has no {spec['kind']!r} distribution ({name})")
        cfg[name] = {
            "distribution": _PROTEIN_KIND[spec["kind"]],
            "min": spec["min"],
            "max": spec["max"],
            "mean": problem.default_params[name],  # the search centre: the default run
            "scale": "auto",
        }
    return cfg


def make_protein(module, problem: Problem, seed: int, max_cost: float):
    """A ``Protein`` for ``problem``, built through its public constructor whichever
    config style this version of the file takes."""
    import random

    random.seed(seed)
    np.random.seed(seed)
    with contextlib.suppress(ImportError):
        import torch

        torch.manual_seed(seed)
    # 3.0's GPs are pyro modules, whose parameters live in pyro's global store under their
    # names (its score and cost GPs share them, as in PufferLib): a fresh store per Protein,
    # as PufferLib's one-sweep process has, or one run's GPs start from the last run's.
    pyro = getattr(module, "pyro", None)
    if pyro is not None and hasattr(pyro, "clear_param_store"):
        pyro.clear_param_store()
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


def _learns_failures(searcher) -> bool:
    """Whether this Protein keeps ``is_failure`` observations apart (3.0 does not)."""
    try:
        return "failure_observations.append" in inspect.getsource(type(searcher).observe)
    except (OSError, TypeError):
        return False


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
    learns_failures = _learns_failures(searcher)
    observed = fed_failures = 0

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
        # one observation per curve point, as PufferLib's sweep loop makes them
        nonlocal observed
        observed += 1
        with quiet():
            searcher.observe(at, score, cost)
        return False

    # Protein's GPs are tiny: a second thread costs more in synchronization than it saves.
    with torch_threads(1):
        while not ledger.exhausted and len(ledger.trials) < cap:
            with quiet():
                raw, _ = searcher.suggest(None)
            params = clean(raw)
            out = ledger.trial(params, on_point)
            # 3.0 is told of a failure only while it has seen nothing else: its first
            # suggestion, the search centre, would otherwise come back every time.
            if out.failed and (learns_failures or not observed):
                fed_failures += 1
                with quiet():
                    searcher.observe(params, problem.score_floor, out.cost, is_failure=True)
    return {"file": str(protein), "failures_fed": fed_failures}


RUNNERS = {
    "random": run_random,
    "tpe": run_tpe,
    "optuna_gp": run_optuna_gp,
    "skopt": run_skopt,
    "botorch": run_botorch,
    "protein": run_protein,
}
