"""Choosing the next point: candidates, feasibility, and a cost-aware acquisition.

Before the models have data, suggestions come from a fixed design: the space's center, then a
scrambled Sobol sequence inside each dimension's ``scale`` window (space-filling, deterministic
for a seed), skipping infeasible points.

After that, each suggestion:

1. draws a target log-cost from a deck: the cost range is cut into ``DECK`` evenly spaced
   targets plus one wildcard (no target), shuffled per round, so consecutive suggestions spread
   along the front instead of piling onto the longest, best-scoring runs;
2. generates candidates: Gaussian steps (several widths, scaled per dimension by ``scale``) from
   the front, the best runs and the best runs near the target cost, each step moving a few
   dimensions at a time so a feasible parent's children mostly stay feasible; single-dimension
   re-draws of the same parents (the best configuration, trained longer or shorter); plus
   uniform ones;
3. keeps the feasible ones (constraints; rejection sampling over the whole space if too few)
   and those whose predicted cost, at its 90% upper quantile, is within ``max_cost``;
4. scores them by log expected improvement of the warped score over the front at the
   candidate's predicted cost (the front is a step function of log-cost built from the model's
   mean at observed points, which smooths out lucky samples), plus ``RISK`` x log P(success),
   plus a Gaussian preference for predicted costs near the target, capped at ``TARGET_CAP``.
   Pending trials enter the score model as pessimistic pretend observations (a constant liar),
   so parallel suggestions differ.

Two departures from textbook EI x P(success). The score model never sees failures, so where runs
crash it extrapolates freely and promises large improvements; counting log P twice keeps the
sweeper from paying for that optimism over and over (on a problem whose score rises into a
crash region, deep-region suggestions late in the sweep fell from ~6 in 15 to ~1). And the cost
target is a preference, not an order: where nothing near the target can improve the front, a
candidate elsewhere with e^4 times the acquisition wins instead of a long-shot near the target.
"""

from __future__ import annotations

import numpy as np

from workbench.sweep.constraints import Constraints
from workbench.sweep.pareto import pareto_mask, step_best
from workbench.sweep.space import Space

DECK = 5  # cost targets per round of the deck (plus one wildcard)
UPPER_Z = 1.2816  # 90% one-sided normal quantile, for the cost cap
TARGET_CAP = 4.0  # the most the cost target may cost a candidate, in log acquisition
RISK = 2.0  # log P(success) counts twice: see the module docstring


class NoFeasiblePoint(RuntimeError):
    """No point satisfying the constraints (and the cost cap) was found."""


def feasible_mask(space: Space, constraints: Constraints, u: np.ndarray) -> np.ndarray:
    if not constraints or not len(u):
        return np.ones(len(u), dtype=bool)
    return constraints.mask(space.columns(u))


def rejection_sample(
    space: Space,
    constraints: Constraints,
    rng: np.random.Generator,
    n: int,
    max_tries: int = 200_000,
    batch: int = 4096,
) -> np.ndarray:
    """Up to ``n`` feasible uniform points; raises NoFeasiblePoint if none in ``max_tries``."""
    found, tried = [], 0
    while tried < max_tries and sum(len(f) for f in found) < n:
        u = space.snap(rng.random((batch, len(space))))
        found.append(u[feasible_mask(space, constraints, u)])
        tried += batch
    out = np.vstack(found)[:n]
    if not len(out):
        raise NoFeasiblePoint(
            f"no point satisfying the constraints in {tried:,} random tries; "
            f"constraints: {[e.text for e in constraints.expressions]}"
        )
    return out


def _sobol(d: int, n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    try:
        engine = qmc.Sobol(d, scramble=True, rng=np.random.default_rng(seed))
    except TypeError:  # scipy < 1.15 names it seed
        engine = qmc.Sobol(d, scramble=True, seed=np.random.default_rng(seed))
    return engine.random(n)


def design(space: Space, seed: int, n: int = 256) -> np.ndarray:
    """The initial design (unit coordinates): the center, then Sobol points in the scale windows."""
    center = space.to_unit(space.center())
    width = space.scales
    low = np.clip(center - width / 2, 0.0, 1.0 - width)
    pts = low + _sobol(len(space), n, seed) * width
    return space.snap(np.vstack([center, pts]))


def local_candidates(
    rng: np.random.Generator,
    parents: np.ndarray,
    n: int,
    scales: np.ndarray,
    categorical: np.ndarray,
) -> np.ndarray:
    """Gaussian steps from random parents, each moving a random few dimensions; a quarter of
    them instead re-draw a single dimension uniformly."""
    d = parents.shape[1]
    base = parents[rng.integers(len(parents), size=n)]
    sigma = np.exp(rng.uniform(np.log(0.02), np.log(0.3), size=(n, 1))) * scales
    move = rng.random((n, d)) < min(1.0, 2.0 / d)
    move[rng.random(n) < 0.2] = True  # some steps move every dimension
    move[np.arange(n), rng.integers(d, size=n)] = True  # and every step moves at least one
    step = rng.standard_normal((n, d)) * sigma
    u = np.where(move, base + step, base)
    # categorical dims: a moved one sometimes jumps to any value (their order may mean nothing)
    jump = move & categorical & (rng.random((n, d)) < 0.3)
    # a quarter re-draw one dimension anywhere in its range: a good run at another training
    # length, batch size, ... is one move away however far that value is
    redraw = np.zeros((n, d), dtype=bool)
    rows = np.flatnonzero(rng.random(n) < 0.25)
    redraw[rows, rng.integers(d, size=len(rows))] = True
    u = np.where(redraw, base, u)
    u = np.where(jump | redraw, rng.random((n, d)), u)
    return np.clip(u, 0.0, 1.0)


def log_expected_improvement(mu, sd, best) -> np.ndarray:
    """log E[max(f - best, 0)] for f ~ N(mu, sd^2), accurate far in the tail.

    E = sd * h(u), u = (mu - best) / sd, h(u) = phi(u) + u Phi(u). For u < 0 we write
    h(u) = phi(u) * (1 + u sqrt(pi/2) erfcx(-u / sqrt(2))), which stays finite where phi(u)
    underflows; below u = -1e4 the asymptote h ~ phi(u) / u^2 takes over.
    """
    from scipy.special import erfcx, ndtr

    sd = np.maximum(np.asarray(sd, dtype=float), 1e-12)
    u = (np.asarray(mu, dtype=float) - best) / sd
    log_phi = -0.5 * u**2 - 0.5 * np.log(2 * np.pi)
    neg = np.minimum(u, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inner = 1 + neg * np.sqrt(np.pi / 2) * erfcx(-neg / np.sqrt(2))
        log_h_neg = log_phi + np.log(np.maximum(inner, 1e-300))
        log_h_far = log_phi - 2 * np.log(np.abs(u))
        pos = np.maximum(u, 0.0)
        log_h_pos = np.log(np.exp(-0.5 * pos**2) / np.sqrt(2 * np.pi) + pos * ndtr(pos))
    log_h = np.where(u >= 0, log_h_pos, np.where(u > -1e4, log_h_neg, log_h_far))
    return np.log(sd) + log_h


def cost_target(seed: int, j: int) -> float | None:
    """The j-th card of the cost deck: a fraction of the cost range, or None (the wildcard)."""
    rnd, pos = divmod(j, DECK + 1)
    rng = np.random.default_rng([seed, rnd, 0xDEC])
    cards = rng.permutation(DECK + 1)
    card = cards[pos]
    if card == DECK:
        return None
    return float((card + rng.uniform(0.0, 1.0, size=DECK + 1)[pos]) / DECK)


def propose(
    space: Space,
    constraints: Constraints,
    rng: np.random.Generator,
    *,
    score,
    cost,
    success,
    X_ok: np.ndarray,
    log_cost_ok: np.ndarray,
    target: float | None,
    max_cost: float | None = None,
    score_lied=None,
    n_local: int = 1500,
    n_global: int = 500,
):
    """The next point (unit coordinates) and a dict of diagnostics.

    ``score`` is the score model, ``score_lied`` the same with pending trials' lies (None: no
    pending), ``cost`` the log-cost model, ``success`` the P(success) model; ``X_ok`` and
    ``log_cost_ok`` the successful observations (unit coordinates, log cost).
    """
    d = len(space)
    mu_obs = score.predict(X_ok, std=False)
    parents = _parents(np.clip(X_ok, 0.0, 1.0), log_cost_ok, mu_obs, target_log_cost=None)
    categorical = np.array([dim.kind == "categorical" for dim in space.dims])

    cand = np.vstack(
        [
            local_candidates(rng, parents, n_local, space.scales, categorical),
            rng.random((n_global, d)),
        ]
    )
    cand = np.unique(space.snap(cand), axis=0)
    cand = cand[feasible_mask(space, constraints, cand)]
    if len(cand) < 64:
        cand = np.vstack([cand, rejection_sample(space, constraints, rng, 256)])
    mu_lc, sd_lc = cost.predict(cand)

    lo, hi = mu_lc.min(), mu_lc.max()  # the costs candidates can reach, not curve points below
    if max_cost is not None:
        hi = min(hi, np.log(max_cost))
        cand, mu_lc, sd_lc = _under_cap(
            space, constraints, rng, cost, cand, mu_lc, sd_lc, np.log(max_cost)
        )
    target_lc = None if target is None else lo + target * max(hi - lo, 0.0)

    if target_lc is not None:  # more children near the target cost, from the best runs there
        near = _parents(np.clip(X_ok, 0.0, 1.0), log_cost_ok, mu_obs, target_lc)
        extra = space.snap(local_candidates(rng, near, n_local // 2, space.scales, categorical))
        extra = extra[feasible_mask(space, constraints, extra)]
        if len(extra):
            e_mu, e_sd = cost.predict(extra)
            keep = _cap_ok(e_mu, e_sd, max_cost)
            cand = np.vstack([cand, extra[keep]])
            mu_lc = np.concatenate([mu_lc, e_mu[keep]])
            sd_lc = np.concatenate([sd_lc, e_sd[keep]])

    mu, sd = (score_lied or score).predict(cand)
    front = pareto_mask(log_cost_ok, mu_obs)
    best_at = step_best(log_cost_ok[front], mu_obs[front], mu_lc, floor=float(mu_obs.min()))
    acq = log_expected_improvement(mu, sd, best_at)
    p_ok = success.predict(cand)
    acq = acq + RISK * np.log(np.maximum(p_ok, 1e-3))
    if target_lc is not None:
        bandwidth = max(0.12 * (hi - lo), 0.05)
        acq = acq - np.minimum(0.5 * ((mu_lc - target_lc) / bandwidth) ** 2, TARGET_CAP)
    i = int(np.argmax(acq))
    info = {
        "candidates": len(cand),
        "target_log_cost": target_lc,
        "acquisition": float(acq[i]),
        "predicted_cost": float(np.exp(mu_lc[i])),
        "predicted_z": float(mu[i]),
        "p_success": float(p_ok[i]),
    }
    return cand[i], info


def _parents(X, log_cost, value, target_log_cost=None, n_best: int = 8) -> np.ndarray:
    """Parents for local steps: the front and the runs closest below it (the best for their
    cost, whatever that cost), or the best runs near a target cost."""
    if target_log_cost is not None:
        spread = max(np.ptp(log_cost), 1e-9)
        closeness = np.abs(log_cost - target_log_cost) / spread
        near = np.argsort(closeness)[: max(n_best, len(log_cost) // 10)]
        return X[near[np.argsort(-value[near])[:n_best]]]
    front = pareto_mask(log_cost, value)
    gap = value - step_best(log_cost[front], value[front], log_cost, floor=float(value.min()))
    gap[front] = -np.inf
    near_front = np.argsort(-gap)[:n_best]
    return X[np.concatenate([np.flatnonzero(front), near_front])]


def _cap_ok(mu_lc, sd_lc, max_cost) -> np.ndarray:
    if max_cost is None:
        return np.ones(len(mu_lc), dtype=bool)
    return mu_lc + UPPER_Z * sd_lc <= np.log(max_cost)


def _under_cap(space, constraints, rng, cost, cand, mu_lc, sd_lc, log_cap):
    """Candidates whose 90% upper cost quantile is under the cap (else, whose mean is)."""
    for _ in range(3):
        for upper in (mu_lc + UPPER_Z * sd_lc, mu_lc):
            ok = upper <= log_cap
            if ok.any():
                return cand[ok], mu_lc[ok], sd_lc[ok]
        cand = rejection_sample(space, constraints, rng, 4096)
        mu_lc, sd_lc = cost.predict(cand)
    raise NoFeasiblePoint(
        f"no feasible candidate is predicted to cost under max_cost={np.exp(log_cap):.4g} "
        f"(cheapest predicted: {np.exp(mu_lc.min()):.4g}); raise max_cost or shrink the space"
    )
