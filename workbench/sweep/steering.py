"""Steering a sweep: what an edit does to a definition, and how trials of one config on
several seeds are grouped.

An edit returns a new, fully checked definition (``edited``) or raises
:class:`~workbench.sweep.definition.DefinitionError` naming the value and a valid choice,
changing nothing. Its rules:

- ``space={name: spec}`` replaces that parameter's range (a parameter fixed until now
  becomes swept); ``space={name: value}`` pins it (it leaves the search and becomes a fixed
  value). Observations made before stay data: a numeric value outside the new range lies
  outside the model's unit box and is never suggested. A categorical parameter keeps, in
  the model, the values it had (so earlier trials stay where they were), and the values an
  edit removes are excluded by constraints ``name != value`` that the edit adds.
- ``fixed={name: value}`` changes fixed training or env values (never a swept one: pin it).
- ``constraints``: a string or a list of strings is added; a dict ``{old: new}`` replaces a
  constraint (``new=None`` removes it).
- ``trials``, ``hours``, ``max_cost``: the budget (None: unchanged).

Configs and seeds: a trial's config is its parameters; the train ``seed`` is not one. A
config run on several seeds is one point of the front at its mean, with its spread.
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from workbench.sweep.definition import OBJECTIVE, DefinitionError, SweepDefinition, load

BUDGET = ("trials", "hours", "max_cost")


def edited(
    d: SweepDefinition,
    space: dict | None = None,
    constraints=None,
    fixed: dict | None = None,
    trials: int | None = None,
    hours: float | None = None,
    max_cost: float | None = None,
) -> SweepDefinition:
    """``d`` with one edit applied, checked as a new definition is (see the module doc). An
    objective sweep's fixed values are its function's fixed arguments."""
    from workbench.envs.registry import env_params as env_param_specs

    objective = d.kind == OBJECTIVE
    env_names = set() if objective else set(env_param_specs(d.env))
    new_space = {k: dict(v) for k, v in d.space.items()}
    train = dict(d.fixed_params if objective else d.train)
    env_params = {} if objective else dict(d.env_params)
    cons = list(d.constraints)

    def fixed_home(name):
        return env_params if name in env_names else train

    for name, spec in (space or {}).items():
        if not isinstance(name, str):
            raise DefinitionError(f"space: parameter names are strings, got {name!r}")
        if isinstance(spec, dict):
            old = d.space.get(name)
            if old and old.get("kind") == spec.get("kind") == "categorical":
                spec, cons = _narrow_categorical(name, old, spec, cons)
            new_space[name] = dict(spec)
            train.pop(name, None)
            env_params.pop(name, None)
        else:
            if name not in new_space:
                raise DefinitionError(
                    f"space: cannot pin {name}={spec!r}: it is not swept (swept: "
                    f"{', '.join(new_space)}); change a fixed value with fixed={{...}}"
                )
            new_space.pop(name)
            cons = [c for c in cons if not _excludes(c, name)]
            fixed_home(name)[name] = spec
    for name, value in (fixed or {}).items():
        if name in new_space:
            raise DefinitionError(
                f"fixed: {name} is swept; pin it with space={{{name!r}: {value!r}}}"
            )
        fixed_home(name)[name] = value
    cons = _edit_constraints(cons, constraints)
    budget = {"trials": d.trials, "hours": d.hours, "max_cost": d.max_cost}
    for key, value in zip(BUDGET, (trials, hours, max_cost), strict=True):
        if value is not None:
            budget[key] = value
    if not new_space:
        raise DefinitionError("an edit cannot pin every parameter: nothing would be swept")
    if objective:
        return load(
            dataclasses.replace(d, space=new_space, fixed_params=train, constraints=cons, **budget)
        )
    data = {
        **dataclasses.asdict(d),
        "space": new_space,
        "train": train,
        "env_params": env_params,
        "constraints": cons,
        **budget,
    }
    return load(SweepDefinition(**data))


def allowed_values(d: SweepDefinition, name: str) -> list:
    """The values a categorical ``name`` may still take: those its edits have not excluded
    (the model keeps every value it had, see the module doc)."""
    return [v for v in d.space[name]["values"] if _exclusion(name, v) not in d.constraints]


def _exclusion(name: str, value) -> str:
    """The constraint an edit adds to exclude a categorical value."""
    return f"{name} != {value!r}"


def _excludes(text: str, name: str) -> bool:
    """Whether ``text`` is an exclusion an edit added to a categorical ``name``."""
    return text.startswith(f"{name} != ")


def _narrow_categorical(name, old: dict, new: dict, cons: list) -> tuple[dict, list]:
    """The model keeps every value the parameter had; removed values become exclusions."""
    old_values, new_values = list(old["values"]), list(new.get("values") or [])
    union = old_values + [v for v in new_values if v not in old_values]
    removed = [v for v in union if v not in new_values]
    cons = [c for c in cons if not _excludes(c, name)] + [_exclusion(name, v) for v in removed]
    spec = {**new, "values": union}
    if "center" not in spec and new_values:
        spec["center"] = new_values[0]
    return spec, cons


def _edit_constraints(cons: list, change) -> list:
    if change is None:
        return cons
    if isinstance(change, str):
        change = [change]
    if isinstance(change, dict):
        out = list(cons)
        for old, new in change.items():
            if old not in out:
                raise DefinitionError(
                    f"constraints: no constraint {old!r} to replace; current: {out}"
                )
            i = out.index(old)
            if new is None:
                out.pop(i)
            else:
                out[i] = new
        return out
    if not isinstance(change, (list, tuple)) or not all(isinstance(c, str) for c in change):
        raise DefinitionError(
            "constraints: give a string or a list of strings to add, or {old: new} to "
            f"replace, got {change!r}"
        )
    return cons + [c for c in change if c not in cons]


# -- configs on several seeds --


def config_key(params: dict) -> tuple:
    """What makes two trials the same config: their parameters, whatever their seeds."""
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _finite(value) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _std(values: list[float]) -> float:
    """The sample standard deviation (n - 1), as pandas' ``std``."""
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def group_configs(results: pd.DataFrame, names) -> pd.DataFrame:
    """One row per config of the finished trials in ``results`` (``trial_table``): its
    parameters, ``seeds`` (trials), ``score`` (mean), ``score_std``, ``cost`` (mean),
    ``score_low`` (the mean less its standard error, with the pooled spread of the configs
    that have several seeds standing in for a config seen once) and ``run_ids``."""
    names = list(names)
    cols = [*names, "seeds", "score", "score_std", "score_low", "cost", "run_ids"]
    done = results[(results["status"] == "finished") & results["score"].notna()]
    if done.empty:
        return pd.DataFrame(columns=cols)
    groups = {}
    for row in done.to_dict("records"):
        key = config_key({k: row[k] for k in names})
        groups.setdefault(key, []).append(row)
    stds = [_std([r["score"] for r in g]) for g in groups.values() if len(g) > 1]
    pooled = sum(stds) / len(stds) if stds else 0.0
    out = []
    for rows in groups.values():  # plain arithmetic: 10,000 small Series cost seconds
        scores = [float(r["score"]) for r in rows]
        n = len(rows)
        mean = sum(scores) / n
        spread = _std(scores) if n > 1 else pooled
        costs = [float(r["cost"]) for r in rows if _finite(r["cost"])]
        out.append(
            {
                **{k: rows[0][k] for k in names},
                "seeds": n,
                "score": mean,
                "score_std": _std(scores) if n > 1 else math.nan,
                "score_low": mean - spread / math.sqrt(n),
                "cost": sum(costs) / len(costs) if costs else math.nan,
                "run_ids": [r["run_id"] for r in rows],
            }
        )
    return pd.DataFrame(out, columns=cols)
