"""Early stopping: end a run whose score is far below what finished runs had at the same cost.

Finished observations (curve points count: each is a shorter finished run) give a cloud of
(log cost, score). Around the running trial's cost we fit a local linear quantile regression:
the ``q`` quantile line of score against log-cost, with Gaussian weights in log-cost (bandwidth
a quarter of the observed log-cost range) so the line follows curved learning curves instead of
one straight line through all of them. The trial is pruned when its score is below that line
by more than ``margin`` times the spread of finished scores (their 5-95% range).

Never prunes before ``min_finished`` finished points, before the trial has spent
``min_fraction`` of its intended cost, at costs cheaper than any finished point (no
extrapolation), or where too few finished points lie near its cost.
"""

from __future__ import annotations

import numpy as np


def quantile_line(x, y, q: float, weights=None) -> tuple[float, float]:
    """(intercept, slope) minimizing the weighted pinball loss at quantile ``q`` (a small LP)."""
    from scipy import sparse
    from scipy.optimize import linprog

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    n = len(x)
    # variables: a, b (free), u+ (n), u- (n);  y - a - b x = u+ - u-
    c = np.concatenate([[0.0, 0.0], q * w, (1 - q) * w])
    eye = sparse.identity(n, format="csr")
    A = sparse.hstack([sparse.csr_matrix(np.column_stack([np.ones(n), x])), eye, -eye])
    bounds = [(None, None), (None, None)] + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A, b_eq=y, bounds=bounds, method="highs")
    if not res.success:  # the LP is always feasible; this guards solver trouble
        return float(np.quantile(y, q)), 0.0
    return float(res.x[0]), float(res.x[1])


def should_prune(
    finished_scores,
    finished_costs,
    score: float,
    cost: float,
    target_cost: float | None = None,
    q: float = 0.25,
    margin: float = 0.1,
    min_finished: int = 20,
    min_fraction: float = 0.25,
    max_points: int = 400,
    noise: float | None = None,
) -> tuple[bool, str]:
    """(prune, reason) for a running trial now at (``score``, ``cost``).

    ``target_cost`` is the cost the trial would reach if left alone; without it the largest
    finished cost stands in (so a short trial is never pruned early on a guess). ``noise``:
    the score noise of one run; the gap must also exceed twice it, so runs that all reach
    the same ceiling are not pruned for noise-level differences.
    """
    s = np.asarray(finished_scores, dtype=float)
    c = np.asarray(finished_costs, dtype=float)
    ok = np.isfinite(s) & np.isfinite(c) & (c > 0)
    s, c = s[ok], c[ok]
    if len(s) < min_finished:
        return False, f"only {len(s)} finished points, need {min_finished} before pruning"
    intended = float(target_cost) if target_cost else float(c.max())
    if cost < min_fraction * intended:
        return False, (
            f"cost {cost:.4g} is {cost / intended:.0%} of the intended {intended:.4g}; "
            f"pruning starts at {min_fraction:.0%}"
        )
    if not np.isfinite(score):
        return True, f"score is {score} at cost {cost:.4g}"
    x, lx = np.log(c), np.log(cost)
    if lx < x.min():
        return False, f"cost {cost:.4g} is below every finished cost (min {c.min():.4g})"
    if len(x) > max_points:  # the LP grows with the points; the nearest ones matter most
        near = np.argsort(np.abs(x - lx))[:max_points]
        x, s_fit = x[near], s[near]
    else:
        s_fit = s
    bandwidth = max(0.25 * (x.max() - x.min()), 0.1)
    w = np.exp(-0.5 * ((x - lx) / bandwidth) ** 2)
    n_eff = w.sum() ** 2 / (w**2).sum()
    if n_eff < min_finished / 2:
        return False, f"only {n_eff:.0f} finished points near cost {cost:.4g}"
    a, _ = quantile_line(x - lx, s_fit, q, w)  # centered: the intercept is the line at lx
    spread = float(np.subtract(*np.quantile(s, [0.95, 0.05])))
    gap = margin * spread
    why = f"margin {margin} x spread {spread:.4g}"
    if noise is not None and np.isfinite(noise) and 2 * noise > gap:
        gap, why = 2 * noise, f"twice the noise {noise:.3g}"
    threshold = a - gap
    numbers = (
        f"score {score:.4g} at cost {cost:.4g}; {q:.0%} quantile line there {a:.4g}, "
        f"threshold {threshold:.4g} ({why}), {len(s)} finished points"
    )
    if score < threshold:
        return True, "below the quantile line: " + numbers
    return False, "keep: " + numbers
