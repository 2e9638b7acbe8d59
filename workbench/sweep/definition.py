"""Sweep definitions: one TOML per experiment (``sweeps/``), checked before any trial runs.

A definition names the env, the values it keeps fixed, what to optimise and at what cost,
the budget, and the search space over the env's default space (its folder's
``[sweep]``)::

    name = "pong"
    env = "pong"
    metric = "perf"          # any outcome in the metric vocabulary (workbench.metrics)
    cost = "wall_time"       # or "agent_steps"
    seed = 0

    [budget]
    trials = 50              # and/or hours; max_cost caps one trial (in cost units)
    hours = 1.0
    max_cost = 120

    [train]                  # fixed TrainConfig values: a parameter fixed here is not swept
    eval_episodes = 32
    [env_params]             # fixed env parameters
    frameskip = 8

    [space]                  # added to / overriding the env's default space
    learning_rate = { kind = "log", min = 0.003, max = 0.1 }

    constraints = ["..."]    # more hard constraints, over parameters and fixed values

The trainer's own shape rules (``minibatch_size`` a multiple of ``bptt_horizon`` and at
most the batch, ...) and its memory estimate are declared once, in ``workbench.ppo.config``,
and added here as constraints, so a suggestion is never a config the trainer would refuse.
Unknown parameters, bad ranges, constraints no point satisfies and metrics nobody logs are
errors at load, naming the value.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

from workbench import metrics as M

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass

TOP_KEYS = {
    "name",
    "env",
    "metric",
    "cost",
    "seed",
    "budget",
    "train",
    "env_params",
    "space",
    "constraints",
    "executor",
    "executor_options",
    "early_stopping",
    "curve_points",
    "length",
    "repeats",
    "warm_start",
}
BUDGET_KEYS = {"trials", "hours", "max_cost", "max_memory_gb", "workers"}
EXECUTORS = ("inline", "processes", "ray")
OBJECTIVE = "objective"  # the kind of a definition whose trials call a Python function
# Fixed TrainConfig values every trial gets unless the definition says otherwise: trials
# leave the process alone and keep few checkpoints.
TRIAL_DEFAULTS = {"checkpoint_interval": 0}


# A stored definition carries its version; upgrade k brings a record from version k to
# k + 1, so a sweep recorded by an older release resumes and shows in a newer one.
DEFINITION_VERSION = 1


def _v0_to_v1(data: dict) -> dict:
    # Version 0 (no version key) had no ``length``: the training length was total_steps.
    return {"length": "total_steps", **data}


UPGRADES = [_v0_to_v1]


class DefinitionError(ValueError):
    """A sweep definition that cannot run; the message names the field and a valid choice."""


@dataclass
class SweepDefinition:
    kind: ClassVar[str] = "train"  # what a trial runs; "objective": workbench.sweep.objective

    env: str
    name: str = ""
    metric: str = M.SCORE
    cost: str = M.WALL_TIME
    seed: int = 0
    trials: int | None = None
    hours: float | None = None
    max_cost: float | None = None
    max_memory_gb: float | None = None
    workers: int = 1
    train: dict = field(default_factory=dict)
    env_params: dict = field(default_factory=dict)
    space: dict = field(default_factory=dict)
    constraints: list = field(default_factory=list)
    executor: str = "inline"
    executor_options: dict = field(default_factory=dict)
    early_stopping: bool = True
    curve_points: int = 8
    source: str | None = None
    length: str | None = "total_steps"
    """the trainer field that sets a trial's training length (curve points need it)"""
    repeats: int = 1
    """run each new config on the observed front on this many seeds in all"""
    warm_start: list = field(default_factory=list)
    """ids of earlier sweeps of the same env whose observations the models start from"""

    def to_dict(self) -> dict:
        return asdict(self)

    def to_record(self) -> dict:
        """The definition as the store keeps it: plain data with its version."""
        return {**asdict(self), "version": DEFINITION_VERSION}

    @property
    def sweeps_length(self) -> bool:
        """Whether the training length is swept (curve points need it: see the engine)."""
        return self.length is not None and self.length in self.space

    def fixed(self) -> dict:
        """Every value a trial does not take from the space, by name: the trainer config at
        the fixed values, the env parameters, and the derived names (``agents_per_copy``...)."""
        from workbench.ppo.config import make_config

        cfg = make_config(self.env, **self.trial_config(_centers(self.space)))
        out = {k: v for k, v in cfg.to_dict().items() if k not in self.space}
        params = out.pop("env_params")
        out.update({k: v for k, v in params.items() if k not in self.space})
        out.update(cfg.derived())
        for k in ("env", "name", "device"):
            out.pop(k, None)
        return out

    def coerce(self, params: dict) -> dict:
        """Parameters in the types the trainer takes (a log-scale length is an int)."""
        from workbench.envs.registry import env_params as env_param_specs
        from workbench.ppo.config import TrainConfig

        types = {f.name: f.type for f in TrainConfig.__dataclass_fields__.values()}
        types.update({k: p.type.__name__ for k, p in env_param_specs(self.env).items()})
        out = {}
        for key, value in params.items():
            kind = types.get(key)
            if kind in ("int", int) and not isinstance(value, bool):
                value = round(value)
            elif kind in ("float", float):
                value = float(value)
            out[key] = value
        return out

    def trial_config(self, params: dict) -> dict:
        """Keyword arguments of ``train()`` for one trial's parameters."""
        from workbench.envs.registry import COMMON_PARAMS
        from workbench.envs.registry import env_params as env_param_specs

        env_names = set(env_param_specs(self.env)) - set(COMMON_PARAMS)
        train = {**TRIAL_DEFAULTS, **self.train}
        env = dict(self.env_params)
        for key, value in self.coerce(params).items():
            (env if key in env_names else train)[key] = value
        return {**train, "env_params": env}


def load(source, **overrides) -> SweepDefinition:
    """A checked definition from a TOML path, a TOML string's dict, or a SweepDefinition
    (or an :class:`~workbench.sweep.objective.ObjectiveDefinition`, checked by its module)."""
    if getattr(source, "kind", None) == OBJECTIVE:
        from workbench.sweep.objective import load_objective

        return load_objective(source, **overrides)
    if isinstance(source, SweepDefinition):
        data, where = source.to_dict(), source.source
        data.pop("source", None)
        budget = {k: data.pop(k) for k in list(data) if k in BUDGET_KEYS}
        data["budget"] = budget
    elif isinstance(source, dict):
        data, where = dict(source), None
    else:
        from workbench.ppo.config import read_toml

        try:
            data = read_toml(source, DefinitionError, "sweep definition")
        except FileNotFoundError as e:
            raise DefinitionError(str(e)) from None
        where = str(source)
    prefix = f"{where}: " if where else ""
    try:
        definition = _build(data, where, overrides)
        _check(definition)
    except DefinitionError as e:
        raise DefinitionError(prefix + str(e)) from None
    except ValueError as e:  # from the space, constraints, registry or config checks
        raise DefinitionError(prefix + str(e)) from None
    return definition


def load_recorded(record: dict, **overrides) -> SweepDefinition:
    """A checked definition from what the store recorded (``RunStore.sweep(id)
    ["definition"]``), upgraded from the version it was written in. The one way a recorded
    sweep's definition is rebuilt: resume, views and the CLI all come here."""
    if record.get("kind") == OBJECTIVE:
        from workbench.sweep.objective import load_recorded_objective

        return load_recorded_objective(record, **overrides)
    data = dict(record)
    version = data.pop("version", 0)
    if not isinstance(version, int) or version < 0:
        raise DefinitionError(f"a recorded definition's version is an int >= 0, got {version!r}")
    if version > DEFINITION_VERSION:
        raise DefinitionError(
            f"this sweep was recorded by a newer workbench (definition version {version}; "
            f"this one reads up to {DEFINITION_VERSION}): upgrade workbench to open it"
        )
    for upgrade in UPGRADES[version:]:
        data = upgrade(data)
    known = {f.name for f in fields(SweepDefinition)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DefinitionError(
            f"a recorded definition (version {version}) has unknown fields {unknown}; "
            f"valid: {', '.join(sorted(known))}"
        )
    return load(SweepDefinition(**data), **overrides)


def _unknown(kind: str, key: str, valid) -> DefinitionError:
    close = difflib.get_close_matches(key, list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return DefinitionError(f"unknown {kind} {key!r}{hint}; valid: {', '.join(sorted(valid))}")


def _build(data: dict, where: str | None, overrides: dict) -> SweepDefinition:
    from workbench.envs.facts import facts

    for key in data:
        if key not in TOP_KEYS:
            raise _unknown("key", key, TOP_KEYS)
    budget = dict(data.get("budget", {}))
    for key in budget:
        if key not in BUDGET_KEYS:
            raise _unknown("budget key", key, BUDGET_KEYS)
    for key, value in overrides.items():
        if value is None:
            continue
        if key in BUDGET_KEYS:
            budget[key] = value
        elif key in ("seed", "executor", "warm_start"):
            data[key] = value
        else:
            raise _unknown("override", key, BUDGET_KEYS | {"seed", "executor", "warm_start"})
    env = data.get("env")
    if not isinstance(env, str) or not env:
        raise DefinitionError("a sweep definition needs env = '<registered env name>'")
    from workbench.envs.registry import env_class

    env_class(env)  # unknown env: the registry's error, with its suggestions
    default = facts(env).sweep
    train = dict(data.get("train", {}))
    env_params = dict(data.get("env_params", {}))
    space = {**default.get("space", {}), **data.get("space", {})}
    for key in (*train, *env_params):
        space.pop(key, None)  # a fixed value is not swept
    constraints = list(data.get("constraints", default.get("constraints", [])))
    return SweepDefinition(
        env=env,
        name=data.get("name") or (Path(where).stem if where else env),
        metric=data.get("metric", default.get("metric", M.SCORE)),
        cost=data.get("cost", default.get("cost", M.WALL_TIME)),
        seed=data.get("seed", 0),
        trials=budget.get("trials"),
        hours=budget.get("hours"),
        max_cost=budget.get("max_cost"),
        max_memory_gb=budget.get("max_memory_gb"),
        workers=budget.get("workers", 1),
        train=train,
        env_params=env_params,
        space=space,
        constraints=constraints,
        executor=data.get("executor", "inline"),
        executor_options=dict(data.get("executor_options", {})),
        early_stopping=data.get("early_stopping", True),
        curve_points=data.get("curve_points", 8),
        source=where,
        length=data.get("length", "total_steps"),
        repeats=data.get("repeats", 1),
        warm_start=list(data.get("warm_start", [])),
    )


def _positive(name, value, kind=(int, float), allow_none=True):
    if value is None and allow_none:
        return
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise DefinitionError(f"{name} must be a number > 0, got {value!r}")


def check_common(d) -> None:
    """The checks every definition passes, whatever its trials run (the trainer, or a
    Python objective: ``workbench.sweep.objective``)."""
    M.check_objective(d.metric)
    M.check_cost(d.cost)
    _positive("budget.trials", d.trials, int)
    _positive("budget.hours", d.hours)
    _positive("budget.max_cost", d.max_cost)
    _positive("budget.workers", d.workers, int, allow_none=False)
    if d.executor not in EXECUTORS:
        raise _unknown("executor", d.executor, EXECUTORS)
    if isinstance(d.repeats, bool) or not isinstance(d.repeats, int) or not 1 <= d.repeats <= 20:
        raise DefinitionError(f"repeats must be an int in [1, 20], got {d.repeats!r}")
    if not all(isinstance(s, str) for s in d.warm_start):
        raise DefinitionError(f"warm_start is a list of sweep ids, got {d.warm_start!r}")
    if not isinstance(d.curve_points, int) or not 1 <= d.curve_points <= 50:
        raise DefinitionError(f"curve_points must be an int in [1, 50], got {d.curve_points!r}")


def _check(d: SweepDefinition) -> None:
    from workbench.envs.registry import env_params as env_param_specs
    from workbench.ppo.config import TrainConfig, make_config

    check_common(d)
    _positive("budget.max_memory_gb", d.max_memory_gb)
    if not d.space:
        raise DefinitionError(
            f"nothing to sweep: {d.env}'s folder has no default [sweep.space] and the "
            "definition has no [space]"
        )
    trainable = {f.name for f in TrainConfig.__dataclass_fields__.values()} - {
        "env",
        "env_params",
        "name",
        "device",
    }
    env_names = set(env_param_specs(d.env)) - {"num_envs", "seed", "log_interval", "slices"}
    for key in d.space:
        if key not in trainable | env_names:
            raise _unknown(f"parameter for {d.env}", key, trainable | env_names)
    # The fixed part must make a valid config with the space's centre.
    make_config(d.env, **d.trial_config(_centers(d.space)))
    build_sweeper(d)  # the space, the constraints and their satisfiability


def _centers(space: dict) -> dict:
    from workbench.sweep.space import Space

    return Space(space).center()


def auto_constraints(d: SweepDefinition) -> list[str]:
    """The trainer's shape rules that read a swept parameter (the others hold at every
    point: the fixed part was validated), and the memory budget, as constraint expressions.
    Both are declared once, in :mod:`workbench.ppo.config`."""
    from workbench.ppo.config import MEMORY_RULE, SHAPE_RULES

    out = [rule.expr for rule in SHAPE_RULES if rule.names & set(d.space)]
    limit = d.max_memory_gb or _default_memory_gb()
    out.append(MEMORY_RULE.format(limit_gb=f"{limit:.3f}"))
    return out


def _default_memory_gb() -> float:
    # Half the machine's memory: several trials may share it.
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return pages / 2e9
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8.0


def build_sweeper(d: SweepDefinition, n_suggested: int = 0):
    """The engine for a definition: its space, its and the trainer's constraints."""
    if d.kind == OBJECTIVE:
        from workbench.sweep.objective import build_objective_sweeper

        return build_objective_sweeper(d, n_suggested)
    from workbench.envs import make
    from workbench.ppo.config import memory_gb
    from workbench.sweep.engine import Sweeper

    fixed = d.fixed()
    env = make(d.env, num_envs=1, **d.env_params)
    fixed["obs_numel"] = int(env.observations[0].size)
    env.close()
    constraints = [*auto_constraints(d), *d.constraints]
    return Sweeper(
        d.space,
        constraints,
        length=d.length,
        score_bounds=M.bounds(d.metric),
        seed=d.seed,
        max_cost=d.max_cost,
        fixed=fixed,
        functions={"memory_gb": memory_gb},
        n_suggested=n_suggested,
    )
