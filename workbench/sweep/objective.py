"""Sweeps of any Python function: ``workbench.sweep(objective=f, space={...}, trials=N)``.

The engine, the store and the view are the same as for training sweeps; only what a trial
runs differs. A trial calls ``f(**params)`` (the swept values and the ``fixed`` ones) and
``f`` gives its result in one of three ways:

- it returns the score: its cost is the seconds the call took (``cost="wall_time"``);
- it returns ``(score, cost)``: the cost on the sweep's cost axis (seconds for
  ``wall_time``, steps for ``agent_steps``);
- it names a ``report`` parameter and calls ``report(score, cost=None, step=None)`` as
  it goes: each call is a point of its curve (a metric row of its run), so the engine
  learns from whole curves and can prune it. A prune or a stop is raised inside
  ``report`` as :class:`TrialStopped`, recorded as ``pruned``/``stopped``. Its final
  result is what it returns, or its last report when it returns None.

An ``f`` that names a ``seed`` parameter gets the sweep's seed, or a fresh one when a
config runs again on more seeds (``reseed``, ``repeats``). An exception in ``f`` fails its
trial (the engine learns the failure region) and the sweep goes on; so does a bad result
(a string, a NaN), with a one-line error naming it.

The function itself is never stored (a store holds data, never code): the sweep records
its qualified name. Anyone can view a recorded objective sweep and read its results, but
only the caller who passes the function again resumes or extends it:
``workbench.sweep(objective=f, resume=sweep_id)``.
"""

from __future__ import annotations

import inspect
import json
import pickle
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from typing import ClassVar

from workbench import metrics as M
from workbench.sweep.definition import OBJECTIVE, DefinitionError, check_common
from workbench.sweep.executors.objective import REPORT, SEED, TrialStopped

__all__ = [
    "ObjectiveDefinition",
    "TrialStopped",
    "build_objective_sweeper",
    "check_function",
    "check_sources",
    "define",
    "export_arguments",
    "load_objective",
    "load_recorded_objective",
    "require_objective",
]

# A stored objective definition carries its version, as a training one does.
OBJECTIVE_VERSION = 1
OVERRIDES = ("trials", "hours", "max_cost", "workers", "seed", "executor", "warm_start")
DIRECTIONS = ("maximize",)


@dataclass
class ObjectiveDefinition:
    """What an objective sweep runs and how: the same budget, executor and search fields
    as a :class:`~workbench.sweep.definition.SweepDefinition`, with a function's name and
    its fixed arguments in place of an env and a trainer config."""

    kind: ClassVar[str] = OBJECTIVE

    objective: str
    """the function's qualified name, ``module:qualname`` (shown and recorded, never imported)"""
    space: dict
    name: str = ""
    metric: str = M.SCORE
    cost: str = M.WALL_TIME
    seed: int = 0
    trials: int | None = None
    hours: float | None = None
    max_cost: float | None = None
    workers: int = 1
    fixed_params: dict = field(default_factory=dict)
    """arguments every call gets unchanged (a pinned parameter lands here)"""
    constraints: list = field(default_factory=list)
    executor: str = "inline"
    executor_options: dict = field(default_factory=dict)
    early_stopping: bool = True
    curve_points: int = 8
    length: str | None = None
    """the parameter (swept or fixed) that sets a call's length, in ``report``'s steps"""
    repeats: int = 1
    warm_start: list = field(default_factory=list)

    @property
    def env(self) -> str:
        """What the trials run, as run records and views name it."""
        return f"{OBJECTIVE}:{self.objective}"

    @property
    def score_key(self) -> str:
        """The metric-row and summary key the score is recorded under (``env/score``)."""
        return M.env(self.metric)

    @property
    def sweeps_length(self) -> bool:
        return self.length is not None and self.length in self.space

    def to_dict(self) -> dict:
        return asdict(self)

    def to_record(self) -> dict:
        return {**asdict(self), "kind": OBJECTIVE, "version": OBJECTIVE_VERSION}

    def fixed(self) -> dict:
        """Every argument a call does not take from the space: the fixed ones and ``seed``."""
        seed = {} if SEED in self.space else {SEED: self.seed}
        return {**seed, **self.fixed_params}

    def coerce(self, params: dict) -> dict:
        """Plain Python values (a suggestion's numpy scalars become numbers)."""
        return {k: v.item() if hasattr(v, "item") else v for k, v in params.items()}

    def trial_config(self, params: dict) -> dict:
        """The keyword arguments of one call (and its run's config)."""
        return {**self.fixed(), **self.coerce(params)}


def define(
    objective,
    space,
    *,
    trials: int | None = None,
    hours: float | None = None,
    constraints=None,
    fixed: dict | None = None,
    metric: str | None = None,
    cost: str | None = None,
    max_cost: float | None = None,
    direction: str = "maximize",
    length: str | None = None,
    name: str | None = None,
    early_stopping: bool | None = None,
    seed: int | None = None,
    executor: str | None = None,
    workers: int | None = None,
) -> ObjectiveDefinition:
    """A checked definition of a sweep of ``objective`` (see the module doc). Raises
    :class:`DefinitionError`, naming the value and a valid choice, before anything runs."""
    if not callable(objective):
        raise DefinitionError(
            f"objective must be a function f(**params) returning a score, got {objective!r} "
            f"({type(objective).__name__})"
        )
    if direction not in DIRECTIONS:
        raise DefinitionError(
            f"direction {direction!r}: the engine maximizes the score; to minimize a loss, "
            "return (or report) -loss"
        )
    from workbench.sweep.space import Space

    if isinstance(space, Space):
        space = space.definition
    if not isinstance(space, dict) or not space:
        raise DefinitionError(
            f"space must be a non-empty dict like {{'lr': {{'kind': 'log', 'min': 1e-4, "
            f"'max': 0.1}}}}, got {space!r}"
        )
    if isinstance(constraints, str):
        constraints = [constraints]
    d = ObjectiveDefinition(
        objective=qualified_name(objective),
        space={k: dict(v) if isinstance(v, dict) else v for k, v in space.items()},
        name=name or getattr(objective, "__name__", None) or "objective",
        metric=metric or M.SCORE,
        cost=cost or M.WALL_TIME,
        seed=0 if seed is None else seed,
        trials=trials,
        hours=hours,
        max_cost=max_cost,
        workers=1 if workers is None else workers,
        fixed_params=dict(fixed or {}),
        constraints=list(constraints or []),
        executor=executor or "inline",
        length=length,
        early_stopping=True if early_stopping is None else early_stopping,
    )
    d = load_objective(d)
    check_function(objective, d)
    return d


def check_sources(definition, objective, resume, direction: str, options: dict) -> None:
    """``workbench.sweep``'s arguments name one thing to run: a definition, an objective
    with the options that define its sweep, or a recorded sweep to resume."""
    given = [k for k, v in options.items() if v is not None]
    if direction != "maximize":
        given.append("direction")
    if given and resume is not None:
        raise DefinitionError(
            f"{', '.join(given)}: a resumed sweep runs its recorded definition; change it "
            "with handle.edit()"
        )
    if given and objective is None:
        raise DefinitionError(
            f"{', '.join(given)}: these define a sweep of objective=f; a definition's are in "
            "its TOML"
        )
    if objective is not None and definition is not None:
        raise DefinitionError("give a definition or objective=f, not both")


def qualified_name(f) -> str:
    module = getattr(f, "__module__", None) or "?"
    return f"{module}:{getattr(f, '__qualname__', None) or type(f).__qualname__}"


def load_objective(d: ObjectiveDefinition, **overrides) -> ObjectiveDefinition:
    """``d`` with budget ``overrides`` (None: unchanged), checked."""
    for key in overrides:
        if key not in OVERRIDES:
            raise DefinitionError(f"unknown override {key!r}; valid: {', '.join(OVERRIDES)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "warm_start" in changes:
        changes["warm_start"] = list(changes["warm_start"])
    d = replace(d, **changes)
    try:
        _check(d)
    except DefinitionError:
        raise
    except ValueError as e:  # from the space, the constraints or the metric checks
        raise DefinitionError(f"objective sweep {d.name}: {e}") from None
    return d


def load_recorded_objective(record: dict, **overrides) -> ObjectiveDefinition:
    """A recorded objective definition (``RunStore.sweep(id)["definition"]``), checked."""
    data = dict(record)
    data.pop("kind", None)
    version = data.pop("version", None)
    if not isinstance(version, int) or version > OBJECTIVE_VERSION:
        raise DefinitionError(
            f"this objective sweep was recorded by another workbench (version {version!r}; "
            f"this one reads up to {OBJECTIVE_VERSION}): upgrade workbench to open it"
        )
    known = {f.name for f in fields(ObjectiveDefinition)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DefinitionError(
            f"a recorded objective definition has unknown fields {unknown}; "
            f"valid: {', '.join(sorted(known))}"
        )
    return load_objective(ObjectiveDefinition(**data), **overrides)


def _check(d: ObjectiveDefinition) -> None:
    from workbench.sweep.space import Space

    if d.metric not in M.OUTCOMES:
        raise DefinitionError(
            f"metric {d.metric!r}: an objective's score is recorded as one of "
            f"{', '.join(M.OUTCOMES)} (default {M.SCORE!r}; 'perf' is bounded to [0, 1])"
        )
    check_common(d)
    Space(d.space)
    if not isinstance(d.early_stopping, bool):
        raise DefinitionError(f"early_stopping is True or False, got {d.early_stopping!r}")
    if not isinstance(d.fixed_params, dict):
        raise DefinitionError(f"fixed must be a dict of arguments, got {d.fixed_params!r}")
    both = sorted(set(d.space) & set(d.fixed_params))
    if both:
        raise DefinitionError(f"{both} are both swept (space) and fixed: give each one place")
    for key, value in d.fixed_params.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise DefinitionError(f"fixed: argument names are identifiers, got {key!r}")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise DefinitionError(
                f"fixed: {key}={value!r} is not plain data (a number, string, bool, list or "
                "dict), and a run's config is recorded as data; build it inside the objective"
            ) from None
    taken = sorted({REPORT} & (set(d.space) | set(d.fixed_params)))
    if taken:
        raise DefinitionError(
            f"{taken[0]!r} is the name of the objective's callback (report(score, cost, step)); "
            "rename that parameter"
        )
    if d.length is not None and d.length not in {*d.space, *d.fixed_params}:
        raise DefinitionError(
            f"length {d.length!r} must name a swept or fixed argument (the call's length in "
            f"report's steps); arguments: {', '.join([*d.space, *d.fixed_params])}"
        )
    build_objective_sweeper(d)  # the constraints, and whether any point satisfies them


def build_objective_sweeper(d: ObjectiveDefinition, n_suggested: int = 0):
    from workbench.sweep.engine import Sweeper

    return Sweeper(
        d.space,
        d.constraints,
        length=d.length,
        score_bounds=M.bounds(d.metric),
        seed=d.seed,
        max_cost=d.max_cost,
        fixed=d.fixed(),
        n_suggested=n_suggested,
    )


def _signature(f) -> tuple[set, set, bool] | None:
    """(names ``f`` takes by keyword, names it requires, whether it takes ``**kwargs``), or
    None when Python cannot tell (a builtin)."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    named, required, var = set(), set(), False
    for p in sig.parameters.values():
        if p.kind == p.VAR_KEYWORD:
            var = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            named.add(p.name)
            if p.default is p.empty:
                required.add(p.name)
    return named, required, var


def check_function(f, d: ObjectiveDefinition) -> None:
    """``f`` can be called with ``d``'s arguments, by ``d``'s executor."""
    if not callable(f):
        raise DefinitionError(f"objective must be a function, got {f!r} ({type(f).__name__})")
    shown = qualified_name(f).split(":", 1)[1]
    sig = _signature(f)
    if sig is not None:
        named, required, var = sig
        given = {*d.space, *d.fixed_params}
        extra = sorted(given - named) if not var else []
        if extra:
            raise DefinitionError(
                f"objective {shown}() takes no argument {extra[0]!r} (from the space or "
                f"fixed); it takes: {', '.join(sorted(named)) or 'nothing'}"
            )
        missing = sorted(required - given - {REPORT, SEED})
        if missing:
            raise DefinitionError(
                f"objective {shown}() requires {missing[0]!r}: sweep it (space={{...}}) or "
                f"fix it (fixed={{{missing[0]!r}: ...}})"
            )
    _check_executor(f, d.executor, shown)


def _check_executor(f, executor: str, shown: str) -> None:
    """Worker processes get the function pickled: by name for ``processes`` (a spawned
    worker imports its module), by value for ``ray`` (cloudpickle)."""
    if executor == "inline":
        return
    if executor == "processes":
        main = sys.modules.get("__main__")
        if getattr(f, "__module__", None) == "__main__" and not getattr(main, "__file__", None):
            raise DefinitionError(
                f"executor='processes' starts worker processes that import the objective by "
                f"name, and {shown} is defined in a notebook or an interactive session: "
                "move it to a .py module and import it from there, or use executor='inline'"
            )
    try:
        if executor == "processes":
            ok, why = pickle.loads(pickle.dumps(f)) is f, "it pickles as another object"
        else:
            from workbench.sweep.executors.ray import import_ray

            ok, why = bool(import_ray().cloudpickle.dumps(f)), ""
    except ImportError:
        raise
    except Exception as e:  # pickling raises many types; each is the same refusal here
        ok, why = False, f"{type(e).__name__}: {e}"
    if not ok:
        raise DefinitionError(
            f"executor={executor!r} sends the objective to worker processes, and {shown} "
            f"cannot be pickled ({why}); define it at the top level of a module (not a "
            "lambda or a nested function), or use executor='inline'"
        )


def require_objective(d, f, sweep_id: str) -> None:
    """The rule for running a recorded sweep again (resume, extend): an objective sweep
    needs its function passed again (the store never holds code); a training sweep takes
    none."""
    if d.kind != OBJECTIVE:
        if f is not None:
            raise DefinitionError(
                f"sweep {sweep_id} trains {d.env}; objective= is for sweeps of a Python function"
            )
        return
    if f is None:
        short = d.objective.split(":", 1)[-1]
        raise DefinitionError(
            f"sweep {sweep_id} calls the Python function {d.objective}, and a store keeps "
            f"data, never code: pass it again to run the sweep, "
            f"workbench.sweep(objective={short}, resume={sweep_id!r})"
        )
    check_function(f, d)


def export_arguments(d: ObjectiveDefinition, sweep_id: str, record: dict, path, store_path):
    """Write one trial's arguments as JSON (``f(**json.load(file)["arguments"])`` calls it
    again), with its score and cost; default path: ``exports/`` beside the store."""
    from pathlib import Path

    summary = record["summary"]
    data = {
        "objective": d.objective,
        "sweep": sweep_id,
        "run_id": record["id"],
        d.metric: summary.get(d.score_key),
        d.cost: summary.get(d.cost),
        "arguments": record["config"],
    }
    out = (
        Path(path)
        if path
        else Path(store_path).parent / "exports" / f"{d.name}-{record['id']}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    return out
