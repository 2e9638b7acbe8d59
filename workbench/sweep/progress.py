"""Sweeps side by side: which can be compared, the reference point they share, and how the
hypervolume of each one's observed front grew with wall-clock time.

The rules ``sweep compare`` (the CLI) and the notebook's ``CompareView`` both follow:

- a front is made of finished trials, the seeds of one config averaged (``group_configs``);
- hypervolume is :func:`pareto.hypervolume`, in (log cost, score), over one reference point
  for every sweep compared (:func:`reference_point`), or the numbers could not be compared.

Averaging seeds means a sweep's hypervolume can fall: a repeat that scores under a config's
first, lucky run lowers that config's mean. With one seed per config it never falls.
"""

from __future__ import annotations

import math

import numpy as np

from workbench import metrics as M
from workbench.sweep.pareto import group_repeats, hypervolume
from workbench.sweep.steering import config_key

# The reference cost sits this far past the dearest trial, in log cost (e^0.1: 10% more),
# so the dearest front point still adds a sliver of area.
COST_MARGIN = 0.1


def check_comparable(definitions: dict) -> None:
    """Raise ``ValueError`` unless every sweep (id -> definition) optimises the same metric
    against the same cost: fronts on other axes share no reference point."""
    items = list(definitions.items())
    first_id, first = items[0]
    for other_id, other in items[1:]:
        if (other.metric, other.cost) != (first.metric, first.cost):
            raise ValueError(
                f"{first_id} optimises {first.metric} against {first.cost}, {other_id} "
                f"{other.metric} against {other.cost}: nothing to compare (compare sweeps "
                "with the same metric and cost)"
            )


def finished(results):
    """The trials fronts are made of, from a ``trial_table``: finished, with a score and a
    cost > 0 (hypervolume is measured in log cost)."""
    cost = results["cost"].astype(float)
    return results[(results["status"] == "finished") & results["score"].notna() & (cost > 0)]


def trial_keys(results, names) -> list[tuple]:
    """Each trial's config (``steering.config_key`` of its ``names`` columns, as
    ``group_configs`` groups them): seeds of one config share a key."""
    return [config_key({k: row[k] for k in names}) for row in results.to_dict("records")]


def reference_point(cost, score, metric: str) -> tuple[float, float]:
    """(reference cost, reference score) for the fronts of the sweeps compared, from every
    finished trial of all of them: a cost 10% past the dearest, and the metric's own floor
    when it has one (``perf``: 0), else a little under the worst score."""
    cost = np.asarray(cost, dtype=float)
    score = np.asarray(score, dtype=float)
    ok = np.isfinite(cost) & (cost > 0) & np.isfinite(score)
    if not ok.any():
        raise ValueError("no finished trial with a score and a cost > 0: no reference point")
    cost, score = cost[ok], score[ok]
    ref_cost = float(math.exp(math.log(cost.max()) + COST_MARGIN))
    bounds = M.bounds(metric)
    if bounds:
        return ref_cost, float(bounds[0])
    low, high = float(score.min()), float(score.max())
    return ref_cost, low - 0.05 * ((high - low) or abs(low) or 1.0)


def front_hypervolume(keys, cost, score, ref: tuple[float, float]) -> float:
    """Hypervolume of the observed front of these finished trials (seeds of a config, equal
    ``keys``, averaged) over ``ref``."""
    if not len(keys):
        return 0.0
    _, mean_cost, mean_score, _, _ = group_repeats(keys, cost, score)
    return hypervolume(mean_cost, mean_score, *ref)


def hypervolume_over_time(times, keys, cost, score, ref: tuple[float, float]):
    """The hypervolume of the observed front after each finished trial came in.

    ``times``: when each trial's result was observed (seconds since its sweep started);
    ``keys``: its config (seeds of a config share one); ``cost``, ``score``: its result.
    Returns (times, hypervolumes) as plain lists, one entry per distinct time, in order;
    the last hypervolume is the whole front's (:func:`front_hypervolume`).
    """
    times = np.asarray(times, dtype=float)
    keys = list(keys)
    cost = np.asarray(cost, dtype=float)
    score = np.asarray(score, dtype=float)
    if not (len(times) == len(keys) == len(cost) == len(score)):
        raise ValueError(
            f"times, keys, cost and score must have one entry per trial, got lengths "
            f"{len(times)}, {len(keys)}, {len(cost)}, {len(score)}"
        )
    order = np.argsort(times, kind="stable")
    out_t: list[float] = []
    out_hv: list[float] = []
    for n, i in enumerate(order.tolist(), start=1):
        if n < len(order) and times[order[n]] == times[i]:
            continue  # results observed at one instant make one step
        seen = order[:n]
        value = front_hypervolume([keys[j] for j in seen], cost[seen], score[seen], ref)
        out_t.append(float(times[i]))
        out_hv.append(float(value))
    return out_t, out_hv
