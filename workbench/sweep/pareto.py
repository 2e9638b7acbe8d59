"""Score-vs-cost Pareto fronts: observed (noise-aware), their hypervolume, and the model's.

Higher score and lower cost are better. Runs repeated with the same parameters are grouped and
averaged first. Two observed fronts are offered:

- raw: the groups no other group beats on both cost and score (by their means);
- conservative (the default): walking groups by increasing cost, a group joins only when its
  lower bound, mean - k * sigma / sqrt(n), beats the best mean of every group at least as
  cheap. A single lucky sample a hair above a cheaper, repeated result is not taken for
  progress; averaged repeats earn their place more easily. sigma is the per-run noise: pooled
  from repeated groups when there are any, else supplied by the caller (the score model's noise
  estimate). With sigma = 0 both fronts coincide. The conservative front is a subset of the raw.

Hypervolume is measured in (log cost, score): the area dominated by the front, bounded by a
reference point (the worst cost and score that still count). Log cost because a 2x saving
matters the same at 10 s as at 10 min.
"""

from __future__ import annotations

import numpy as np


def group_repeats(keys, cost, score):
    """Average runs with equal keys: (first index of each group, mean cost, mean score, count)."""
    cost = np.asarray(cost, dtype=float)
    score = np.asarray(score, dtype=float)
    index: dict = {}
    members: list[list[int]] = []
    for i, key in enumerate(keys):
        if key not in index:
            index[key] = len(members)
            members.append([])
        members[index[key]].append(i)
    first = np.array([m[0] for m in members], dtype=int)
    n = np.array([len(m) for m in members], dtype=int)
    mean_cost = np.array([cost[m].mean() for m in members])
    mean_score = np.array([score[m].mean() for m in members])
    return first, mean_cost, mean_score, n, members


def pooled_noise(score, members) -> float | None:
    """Per-run score std pooled over groups with repeats; None when nothing was repeated."""
    score = np.asarray(score, dtype=float)
    ss, dof = 0.0, 0
    for m in members:
        if len(m) > 1:
            ss += float(((score[m] - score[m].mean()) ** 2).sum())
            dof += len(m) - 1
    return float(np.sqrt(ss / dof)) if dof else None


def pareto_mask(cost, score) -> np.ndarray:
    """Points no other point beats (cost <= and score >=, one strictly); ties keep the first."""
    cost = np.asarray(cost, dtype=float)
    score = np.asarray(score, dtype=float)
    order = np.lexsort((np.arange(len(cost)), -score, cost))
    ranked = score[order]
    before = np.fmax.accumulate(np.concatenate([[-np.inf], ranked[:-1]]))
    mask = np.zeros(len(cost), dtype=bool)
    mask[order] = ranked > before  # better than everything at its cost or below
    return mask


def conservative_mask(cost, score, n, sigma: float, k: float = 1.0) -> np.ndarray:
    """The conservative front of grouped means (see the module docstring)."""
    cost = np.asarray(cost, dtype=float)
    score = np.asarray(score, dtype=float)
    lower = score - k * sigma / np.sqrt(np.asarray(n, dtype=float))
    order = np.lexsort((np.arange(len(cost)), -score, cost))
    mask = np.zeros(len(cost), dtype=bool)
    best = -np.inf
    for i in order:
        if lower[i] > best or best == -np.inf:
            mask[i] = True
        best = max(best, score[i])
    return mask


def observed_front(
    keys, cost, score, noise: float | None = None, k: float = 1.0, conservative: bool = True
):
    """Front of grouped observations.

    Returns (first index of each front group, mean cost, mean score, count), sorted by cost.
    ``noise`` is the per-run std used when no parameters were repeated.
    """
    first, mcost, mscore, n, members = group_repeats(keys, cost, score)
    if not len(first):
        return first, mcost, mscore, n
    if conservative:
        sigma = pooled_noise(score, members)
        sigma = noise if sigma is None else sigma
        mask = conservative_mask(mcost, mscore, n, sigma or 0.0, k)
    else:
        mask = pareto_mask(mcost, mscore)
    order = np.flatnonzero(mask)[np.argsort(mcost[mask], kind="stable")]
    return first[order], mcost[order], mscore[order], n[order]


def hypervolume(cost, score, ref_cost: float, ref_score: float, log_cost: bool = True) -> float:
    """Area dominated by the points in (log cost, score), bounded by (ref_cost, ref_score).

    Points at or beyond the reference (cost >= ref_cost or score <= ref_score) add nothing.
    """
    cost = np.asarray(cost, dtype=float)
    score = np.asarray(score, dtype=float)
    keep = (cost < ref_cost) & (score > ref_score) & np.isfinite(score)
    if not keep.any():
        return 0.0
    x = np.log(cost[keep]) if log_cost else cost[keep]
    x_ref = np.log(ref_cost) if log_cost else ref_cost
    y = score[keep]
    front = pareto_mask(x, y)
    x, y = x[front], y[front]
    order = np.argsort(x)
    x, y = x[order], y[order]
    widths = np.diff(np.append(x, x_ref))
    return float(np.sum(widths * (y - ref_score)))


def step_best(front_x, front_y, x, floor: float) -> np.ndarray:
    """Best front value at or below each ``x`` (a step function); ``floor`` where none is."""
    front_x = np.asarray(front_x, dtype=float)
    front_y = np.asarray(front_y, dtype=float)
    order = np.argsort(front_x)
    fx = front_x[order]
    running = np.maximum.accumulate(front_y[order]) if len(fx) else front_y
    pos = np.searchsorted(fx, np.asarray(x, dtype=float), side="right")
    out = np.full(np.shape(x), float(floor))
    has = pos > 0
    out[has] = np.maximum(running[pos[has] - 1], floor)
    return out


def predicted_front(grid_cost, cand_cost, cand_mean, cand_lo, cand_hi):
    """For each grid cost, the candidate with the best predicted mean among those predicted to
    cost no more; returns (mean, lo, hi) arrays with NaN where no candidate is that cheap."""
    grid = np.asarray(grid_cost, dtype=float)
    order = np.argsort(cand_cost)
    c = np.asarray(cand_cost, dtype=float)[order]
    m = np.asarray(cand_mean, dtype=float)[order]
    lo = np.asarray(cand_lo, dtype=float)[order]
    hi = np.asarray(cand_hi, dtype=float)[order]
    # index of the running argmax of the mean along increasing cost
    best = np.zeros(len(m), dtype=int)
    for i in range(1, len(m)):
        best[i] = i if m[i] > m[best[i - 1]] else best[i - 1]
    pos = np.searchsorted(c, grid, side="right") - 1
    out = np.full((3, len(grid)), np.nan)
    ok = pos >= 0
    pick = best[pos[ok]]
    out[0, ok], out[1, ok], out[2, ok] = m[pick], lo[pick], hi[pick]
    return out[0], out[1], out[2]
