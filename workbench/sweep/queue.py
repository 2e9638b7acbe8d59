"""Trials a person asked for: hand-picked configs (``enqueue``), the best configs again on
fresh seeds (``reseed``, ``repeats``), and trials re-run after their worker or driver died.
They run before new suggestions; each is a config and a train seed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from workbench.sweep.definition import DefinitionError, SweepDefinition
from workbench.sweep.steering import config_key, group_configs

# Where a trial came from, as its run's tag ``origin:<kind>``: a suggestion of the engine
# or one of these (a resumed sweep counts the engine's suggestions from the suggested).
ORIGINS = ("suggested", "queued", "reseed", "repeat", "rerun")


@dataclass
class Queued:
    """A trial to run before the next suggestion."""

    params: dict
    seed: int | None  # the train seed; None: the definition's
    origin: str  # one of ORIGINS
    key: str  # unique in the sweep: the request's seq and position, or the re-run run id

    def to_dict(self) -> dict:
        return {"params": self.params, "seed": self.seed, "origin": self.origin, "key": self.key}


def complete(handle, params: dict, seeds: int = 1) -> list[dict]:
    """``params`` completed from the best trial (the space's centre before one finished),
    coerced to the trainer's types and checked: names, values, constraints. Raises
    :class:`DefinitionError` naming what is wrong; returns one entry per seed."""
    from workbench.sweep.space import Space, SpaceError

    d: SweepDefinition = handle.definition
    if not isinstance(params, dict):
        raise DefinitionError(f"enqueue takes a dict of parameters, got {params!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise DefinitionError(f"seeds must be an int >= 1, got {seeds!r}")
    unknown = [k for k in params if k not in d.space]
    if unknown:
        raise DefinitionError(
            f"enqueue: {unknown} are not swept (swept: {', '.join(d.space)}); change fixed "
            "values with edit(fixed=...)"
        )
    best = handle.best()
    base = {k: best[k] for k in d.space} if best else Space(d.space).center()
    full = d.coerce({**base, **params})
    try:
        Space(d.space).check(full)
    except SpaceError as e:
        raise DefinitionError(f"enqueue: {e}") from None
    with handle.engine() as sweeper:
        broken = sweeper.constraints.violations(full)
    if broken:
        raise DefinitionError(f"enqueue: {full} breaks the constraint {broken[0]!r}")
    return [{"params": full, "seed": None} for _ in range(seeds)]


def fresh_seeds(results: pd.DataFrame, names, params: dict, n: int, base: int) -> list[int]:
    """``n`` train seeds no trial of this config has used, counting up from ``base``."""
    key = config_key({k: params[k] for k in names})
    used = {
        int(r["seed"])
        for r in results.to_dict("records")
        if config_key({k: r[k] for k in names}) == key and pd.notna(r["seed"])
    }
    out, seed = [], base
    while len(out) < n:
        if seed not in used:
            out.append(seed)
        seed += 1
    return out


def front_configs(results: pd.DataFrame, names) -> pd.DataFrame:
    """The configs on the observed front of finished trials (grouped over seeds, at their
    mean score and cost)."""
    from workbench.sweep.pareto import pareto_mask

    configs = group_configs(results, names)
    return configs[pareto_mask(configs["cost"], configs["score"])] if len(configs) else configs


def best_of_front(results: pd.DataFrame, names, k: int) -> list[str]:
    """The ``k`` best configs on the observed front, best first, as one run id of each."""
    front = front_configs(results, names)
    if front.empty:
        return []
    ranked = front.sort_values("score", ascending=False)
    return [r["run_ids"][0] for r in ranked.head(k).to_dict("records")]
