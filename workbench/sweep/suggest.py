"""Choosing the next point: candidates, feasibility, and a cost-aware acquisition.

Before the models have data, suggestions come from a fixed design: the space's center, then a
scrambled Sobol sequence inside each dimension's ``scale`` window (space-filling, deterministic
for a seed), skipping infeasible points.

After that, each suggestion:

1. generates candidates: Gaussian steps (several widths, scaled per dimension by ``scale``) from
   the front and the runs just below it, and from the best runs near one random cost (so the
   search spreads along the cost range instead of piling onto the few configurations on the
   front), each step moving a few dimensions at a time so a feasible parent's children mostly
   stay feasible; plus uniform ones;
2. keeps the feasible ones (constraints; rejection sampling over the whole space if too few)
   and those whose predicted cost, at its 90% upper quantile, is within ``max_cost``; of
   those, while any is left, the ones with P(success) >= ``MIN_P_SUCCESS`` (as for design
   points);
3. scores them by the log expected hypervolume improvement, in (log cost, warped score), of the
   curve each would report (``log_expected_hvi``: its curve points at the fractions of its
   length seen so far, each holding from its cost to the next point's), over the front built
   from the model's mean at observed points (which smooths out lucky samples); a shorter run
   is also credited with what it tells about the same configuration at full length (that
   run's improvement times their squared posterior correlation); minus ``COST_EXPONENT`` x
   its predicted log cost, plus ``RISK`` x log P(success). Every candidate is first screened
   on its last point alone (correlations taken as 1), and the full curves are scored for the
   best ``n_screened``: a curve costs one prediction per point. Pending trials enter the
   score model as pessimistic pretend observations (a constant liar), so parallel
   suggestions differ.

Why log P(success) counts twice: the score model never sees failures, so where runs crash it
extrapolates freely and promises large improvements; counting log P twice keeps the sweeper from
paying for that optimism over and over (on a problem whose score rises into a crash region,
deep-region suggestions late in the sweep fell from ~6 in 15 to ~1). With the hypervolume
acquisition that is not enough: once the front is well modelled, the improvement promised in
the crash region exceeds the rest by hundreds of nats in log space, more than any power of P can
take back, and on that problem 13-15 of the last 15 suggestions crashed (6 seeds). Hence the
``MIN_P_SUCCESS`` filter: there 6-8 of 15 crash, all at the edge, none deep inside.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from workbench.sweep.constraints import Constraints
from workbench.sweep.pareto import pareto_mask, step_best
from workbench.sweep.space import Space

UPPER_Z = 1.2816  # 90% one-sided normal quantile, for the cost cap
RISK = 2.0  # log P(success) counts twice: see the module docstring
MIN_P_SUCCESS = 0.5  # candidates below it are dropped while any other is left
COST_EXPONENT = 0.5  # improvement per square root of cost
POTENTIAL = True  # credit shorter runs with what they tell about the full-length run


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


def curve_units(
    space: Space, u: np.ndarray, length_column: int | None, fractions, shortest: float = -np.inf
):
    """Unit coordinates of the curve points a trial at ``u`` reports: its length parameter
    (column ``length_column``) times each fraction, the other columns unchanged; (n, K, d), the
    last point the trial itself. Without a length parameter, K = 1. Also a mask (n, K) of
    the points to expect: none shorter than ``shortest`` (the unit coordinate of the
    shortest length ever reported), whose scores the models would only guess."""
    u = np.atleast_2d(u)
    if length_column is None:
        return u[:, None, :], np.ones((len(u), 1), dtype=bool)
    dim = space.dims[length_column]
    full = dim.from_unit(u[:, length_column]).astype(float)
    out = np.repeat(u[:, None, :], len(fractions), axis=1)
    for k, frac in enumerate(fractions):
        if frac < 1.0:
            out[:, k, length_column] = np.clip(dim.to_unit(full * frac), -1.0, 1.0)
    expected = out[:, :, length_column] >= shortest - 1e-9
    expected[:, -1] = True
    return out, expected


def log_expected_hvi(mu, sd, log_cost, front_x, front_y, ref_x: float, floor: float, expected=None):
    """log E[hypervolume improvement] of each candidate's curve over a step-function front.

    ``mu``, ``sd``, ``log_cost``: (n, K) predicted score (normal) and log cost of each
    candidate's K curve points in order of length. The front gives, at log cost x, the best
    score no dearer than x (``floor`` below its cheapest point); the improvement is the
    area between the curve's own step function and the front's, from its cheapest point to
    ``ref_x``: point k holds over [x_k, x_{k+1}), the last one up to ``ref_x``, and the
    expectation splits into EI terms over the pieces where the front is flat. Points
    masked out by ``expected`` (n, K) hold nowhere.
    """
    mu, sd = np.atleast_2d(mu), np.atleast_2d(sd)
    x = np.maximum.accumulate(np.atleast_2d(log_cost), axis=1)
    n = len(x)
    order = np.argsort(front_x)
    fx = np.asarray(front_x, dtype=float)[order]
    fy = np.maximum.accumulate(np.asarray(front_y, dtype=float)[order]) if len(fx) else fx
    # flat pieces of the front: (-inf, fx_0) at the floor, then [fx_j, fx_j+1) at fy_j
    lo = np.concatenate([[-np.inf], fx])
    hi = np.concatenate([fx, [np.inf]])
    level = np.maximum(np.concatenate([[floor], fy]), floor)
    ends = np.minimum(np.concatenate([x[:, 1:], np.full((n, 1), ref_x)], axis=1), ref_x)
    start = np.minimum(x, ref_x)
    # overlap of [start, end) of each curve point with each flat piece: (n, K, J)
    width = np.minimum(ends[..., None], hi) - np.maximum(start[..., None], lo)
    useful = width > 0
    if expected is not None:
        useful &= np.asarray(expected, dtype=bool)[..., None]
    ii, kk, jj = np.nonzero(useful)
    out = np.full(n, -np.inf)
    if not len(ii):
        return out
    terms = np.log(width[ii, kk, jj]) + log_expected_improvement(mu[ii, kk], sd[ii, kk], level[jj])
    top = np.full(n, -np.inf)
    np.maximum.at(top, ii, terms)
    total = np.zeros(n)
    np.add.at(total, ii, np.exp(terms - top[ii]))
    has = np.isfinite(top)
    out[has] = top[has] + np.log(total[has])
    return out


@dataclass
class Acquisition:
    """Scores candidate trials: log E[hypervolume improvement] of the curve each would
    report, minus ``cost_exponent`` x its predicted log cost, plus ``RISK`` x log P(success).

    ``score`` predicts (pending trials' lies included), ``cost`` is the log-cost model,
    ``success`` the P(success) model; the front is the step function (``front_x`` log cost,
    ``front_y`` warped score) that improvements are measured against, ``floor`` below its
    cheapest point, up to ``ref`` (log cost). ``length_column``, ``fractions`` and ``shortest``
    describe the curve (see ``curve_units``).
    """

    space: Space
    score: object
    cost: object
    success: object
    front_x: np.ndarray
    front_y: np.ndarray
    floor: float
    ref: float
    length_column: int | None = None
    fractions: tuple = (1.0,)
    shortest: float = -np.inf
    cost_exponent: float | None = None  # None: COST_EXPONENT
    optimistic: bool = False  # take every correlation as 1 (a cheap upper bound, to screen)

    def __call__(self, cand: np.ndarray, mu_lc: np.ndarray | None = None) -> tuple:
        """(acquisition (n,), parts): ``parts`` holds the pieces for diagnostics;
        ``mu_lc``: the candidates' predicted log costs, when known already."""
        hvi, curve_lc, mu = self._hvi(cand, mu_lc)
        value = hvi
        if POTENTIAL and self.length_column is not None:
            # a shorter run also tells what the same configuration would do at full
            # length: credit it with that run's value, times the squared correlation
            full = cand.copy()
            full[:, self.length_column] = 1.0
            longer = cand[:, self.length_column] < 1.0 - 1e-9
            if longer.any():
                pot, _, _ = self._hvi(full[longer], None)
                if self.optimistic:
                    rho = np.ones(int(longer.sum()))
                else:
                    rho = self.score.correlation(cand[longer], full[longer])
                extra = np.log(np.maximum(rho, 0.0) ** 2 + 1e-300) + pot
                gain = np.logaddexp(hvi[longer], extra)  # direct value + informed part
                value = hvi.copy()
                value[longer] = np.maximum(hvi[longer], gain)
        p_ok = self.success.predict(cand)
        alpha = COST_EXPONENT if self.cost_exponent is None else self.cost_exponent
        acq = value - alpha * curve_lc[:, -1] + RISK * np.log(np.maximum(p_ok, 1e-3))
        parts = {"log_hvi": hvi, "log_cost": curve_lc[:, -1], "p_success": p_ok, "z": mu[:, -1]}
        return acq, parts

    def _hvi(self, cand, mu_lc):
        d = len(self.space)
        curve, expected = curve_units(
            self.space, cand, self.length_column, self.fractions, self.shortest
        )
        n, k = curve.shape[:2]
        flat = curve.reshape(n * k, d)
        mu, sd = self.score.predict(flat)
        mu, sd = mu.reshape(n, k), sd.reshape(n, k)
        if mu_lc is None:
            curve_lc = self.cost.predict(flat)[0].reshape(n, k)
        else:
            short = np.arange(n * k) % k != k - 1
            curve_lc = np.empty((n, k))
            curve_lc[:, :-1] = self.cost.predict(flat[short])[0].reshape(n, k - 1)
            curve_lc[:, -1] = mu_lc
        hvi = log_expected_hvi(
            mu, sd, curve_lc, self.front_x, self.front_y, self.ref, self.floor, expected
        )
        return hvi, curve_lc, mu


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
    max_cost: float | None = None,
    score_lied=None,
    n_local: int = 1500,
    n_global: int = 500,
    length_column: int | None = None,
    fractions=(1.0,),
    shortest: float = -np.inf,
    n_screened: int = 256,
):
    """The next point (unit coordinates) and a dict of diagnostics.

    ``score`` is the score model, ``score_lied`` the same with pending trials' lies (None: no
    pending), ``cost`` the log-cost model, ``success`` the P(success) model; ``X_ok`` and
    ``log_cost_ok`` the successful observations (unit coordinates, log cost); ``length_column``,
    ``fractions`` and ``shortest`` describe the curve points a trial reports.
    """
    d = len(space)
    mu_obs = score.predict(X_ok, std=False)
    parents = _parents(np.clip(X_ok, 0.0, 1.0), log_cost_ok, mu_obs)
    categorical = np.array([dim.kind == "categorical" for dim in space.dims])

    band = _band_parents(np.clip(X_ok, 0.0, 1.0), log_cost_ok, mu_obs, rng)
    cand = np.vstack(
        [
            local_candidates(rng, parents, n_local, space.scales, categorical),
            local_candidates(rng, band, n_local // 2, space.scales, categorical),
            rng.random((n_global, d)),
        ]
    )
    cand = np.unique(space.snap(cand), axis=0)
    cand = cand[feasible_mask(space, constraints, cand)]
    if len(cand) < 64:
        cand = np.vstack([cand, rejection_sample(space, constraints, rng, 256)])
    mu_lc, sd_lc = cost.predict(cand)
    hi = mu_lc.max()  # the dearest run the space holds, as far as the model knows
    if max_cost is not None:
        hi = min(hi, np.log(max_cost))
        cand, mu_lc, sd_lc = _under_cap(
            space, constraints, rng, cost, cand, mu_lc, sd_lc, np.log(max_cost)
        )
    # a run predicted more likely to crash than not only when nothing else is left, as for
    # design points: the score model's optimism there outweighs P(success) (module docstring)
    safe = success.predict(cand) >= MIN_P_SUCCESS
    if safe.any():
        cand, mu_lc = cand[safe], mu_lc[safe]
    front = pareto_mask(log_cost_ok, mu_obs)
    acquisition = Acquisition(
        space,
        score_lied or score,
        cost,
        success,
        front_x=log_cost_ok[front],
        front_y=mu_obs[front],
        floor=float(mu_obs.min()),
        ref=float(hi if max_cost is not None else max(hi, log_cost_ok.max())),
        length_column=length_column,
        fractions=tuple(fractions),
        shortest=shortest,
    )
    # screen every candidate by its last curve point alone, then score the full curves of
    # the best few: the curve costs K predictions per candidate (9x the time at K = 9)
    if len(acquisition.fractions) > 1 and len(cand) > n_screened:
        rough, _ = replace(acquisition, fractions=(1.0,), optimistic=True)(cand, mu_lc)
        keep = np.argsort(-rough, kind="stable")[:n_screened]
        cand, mu_lc = cand[keep], mu_lc[keep]
    acq, parts = acquisition(cand, mu_lc)
    i = int(np.argmax(acq))
    info = {
        "candidates": len(cand),
        "acquisition": float(acq[i]),
        "predicted_cost": float(np.exp(mu_lc[i])),
        "predicted_z": float(parts["z"][i]),
        "p_success": float(parts["p_success"][i]),
    }
    return cand[i], info


def _parents(X, log_cost, value, n_best: int = 8) -> np.ndarray:
    """Parents for local steps: the front and the runs closest below it (the best for their
    cost, whatever that cost)."""
    front = pareto_mask(log_cost, value)
    gap = value - step_best(log_cost[front], value[front], log_cost, floor=float(value.min()))
    gap[front] = -np.inf
    near_front = np.argsort(-gap)[:n_best]
    return X[np.concatenate([np.flatnonzero(front), near_front])]


def _band_parents(X, log_cost, value, rng, n_best: int = 8) -> np.ndarray:
    """Parents around one random cost: the best of the runs nearest to it. The front's
    neighbourhood alone breeds children of the few configurations on it; these spread the
    search along the cost range."""
    target = rng.uniform(log_cost.min(), log_cost.max())
    near = np.argsort(np.abs(log_cost - target))[: max(n_best, len(log_cost) // 10)]
    return X[near[np.argsort(-value[near])[:n_best]]]


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
