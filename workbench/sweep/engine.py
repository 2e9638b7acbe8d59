"""``Sweeper``: a black-box, cost-aware optimizer over a parameter space (maximize score,
minimize cost), built from the pieces beside it: space, constraints, models, pareto, suggest,
stopping. It runs nothing itself; an executor asks it for parameters and reports back.

Curve points. A trial that trains for L steps reports several points of its learning curve, each
observed as if it were a shorter, finished run: ``observe(params | {"total_steps": s}, score_s,
cost_s)`` with the training-length parameter set to the steps reached there and the cost reached
there. Five to ten points per curve let the models learn how score grows with length from every
run, and fill the cheap end of the front for free. Nothing else is needed from the engine: the
models subsample many near-duplicate points cheaply. The last point, with the full parameters,
also clears the trial from the pending set.

Failures. ``failed=True``, or a score that is None, NaN or infinite, marks a failure: it teaches
the success model only. A failed run's cost may be None, NaN or 0 (it crashed at once); a
successful run's cost must be a finite number > 0.

Pending trials. Call ``pending(params)`` when a trial starts and ``forget(params)`` if it ends
without an observation of exactly those parameters. Pending trials are told to the score model
as pessimistic results, so parallel workers get different suggestions.

Determinism and resume. The k-th suggestion is a function of (seed, k, the observation history,
the pending set) only: its random numbers come from ``(seed, k)`` and the models' kernel fits
depend only on the history (see ``models``). To resume after a crash, rebuild the sweeper from
the recorded observations and the number of suggestions already made::

    sweeper = Sweeper(space, constraints, seed=0, n_suggested=k).replay(old.observations)

and re-declare the trials still in flight with ``pending``; its next suggestion is the one the
old sweeper would have made.

The cost cap. ``max_cost`` is hard: once a successful run's cost is known, no suggestion has a
predicted cost (90% upper quantile; the mean if none qualifies) above it. The very first
suggestions, made before any cost is known, cannot be checked. ``suggest(max_cost=c)`` applies
a tighter cap to one suggestion (a sweep passes the time it has left), and raises
NoFeasiblePoint, without using up the suggestion, if no run is predicted to fit under it;
the cap it was given then joins the inputs the suggestion is a function of.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from workbench.sweep import models as surrogates
from workbench.sweep.constraints import Constraints, check_satisfiable
from workbench.sweep.pareto import observed_front, pareto_mask
from workbench.sweep.pareto import predicted_front as _predicted_front
from workbench.sweep.space import Space, SpaceError
from workbench.sweep.stopping import should_prune
from workbench.sweep.suggest import (
    UPPER_Z,
    NoFeasiblePoint,
    design,
    feasible_mask,
    local_candidates,
    propose,
    rejection_sample,
)


def _restarts(m: int) -> int:
    """Optimizer restarts for a kernel fit on m points: one while data are few and the
    likelihood bumpy; none later, when the data pin it down and each fit costs more."""
    return 1 if m < 40 else 0


def _key(params: Mapping) -> tuple:
    """Hashable identity of a parameter dict (floats to 12 significant digits)."""
    return tuple(
        (k, float(f"{v:.12g}") if isinstance(v, float) else v) for k, v in sorted(params.items())
    )


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _cap(max_cost) -> float | None:
    """A cost cap checked: None, or a finite number > 0."""
    if max_cost is not None and not (_finite(max_cost) and max_cost > 0):
        raise ValueError(f"max_cost must be a finite number > 0, got {max_cost!r}")
    return None if max_cost is None else float(max_cost)


class Sweeper:
    """Suggests parameters, learns from (score, cost) observations, fills the Pareto front.

    space: a ``Space`` or its definition dict; constraints: expression strings (see
    ``constraints``); fixed: constant values the constraints may use (not swept, not returned
    by ``suggest``, ignored when passed to ``observe``); functions: named functions the
    constraints may call; max_cost: hard cap on predicted cost.

    Keyword-only knobs: n_suggested: suggestions already made (for resume); n_initial: design
    points before the models take over (default 4..8 with the dimension); max_points /
    max_hyper_points: most points a model conditions on / fits its kernel on (counts, where
    ``max_cost`` is a cost); length: the parameter that is a trial's training length, if
    any (curve points are shorter runs of it; none by default); stop_*: ``should_stop``
    settings (see ``stopping.should_prune``); score_warp: "robust" or "rank" (see ``models``).
    ``last_info`` holds the last model-based suggestion's diagnostics (target cost, predicted
    cost, P(success), acquisition).
    """

    def __init__(
        self,
        space: Mapping | Space,
        constraints: Sequence[str] | str = (),
        seed: int = 0,
        max_cost: float | None = None,
        fixed: Mapping | None = None,
        functions: Mapping[str, Callable] | None = None,
        *,
        n_suggested: int = 0,
        n_initial: int | None = None,
        max_points: int = 500,
        max_hyper_points: int = 150,
        stop_quantile: float = 0.25,
        stop_margin: float = 0.1,
        stop_min_finished: int = 20,
        stop_min_fraction: float = 0.25,
        score_warp: str = "robust",
        length: str | None = None,
        score_bounds: tuple[float, float] | None = None,
    ):
        self.space = space if isinstance(space, Space) else Space(space)
        self.fixed = dict(fixed or {})
        self.constraints = Constraints(constraints, self.space.names, self.fixed, functions)
        self.seed = int(seed)
        self.feasible_fraction = check_satisfiable(
            self.space, self.constraints, np.random.default_rng([self.seed, 0xC0])
        )
        self.max_cost = _cap(max_cost)
        self.n_suggested = int(n_suggested)
        d = len(self.space)
        self.n_initial = int(n_initial) if n_initial is not None else min(max(4, d // 2 + 2), 8)
        self.max_points, self.max_hyper_points = int(max_points), int(max_hyper_points)
        if score_warp not in ("robust", "rank"):
            raise ValueError(f"score_warp must be 'robust' or 'rank', got {score_warp!r}")
        self.score_warp = score_warp
        self.stop_settings = dict(
            q=stop_quantile,
            margin=stop_margin,
            min_finished=stop_min_finished,
            min_fraction=stop_min_fraction,
        )
        if score_bounds is not None and not score_bounds[0] < score_bounds[1]:
            raise ValueError(
                f"score_bounds must be (low, high) with low < high, got {score_bounds}"
            )
        self.score_bounds = score_bounds
        self.length = length if length in self.space.names else None
        self._length_index = None if self.length is None else self.space.names.index(length)
        self._rows: list[dict] = []
        self._units: list[np.ndarray] = []
        self._pending: dict[tuple, np.ndarray] = {}
        self._hyper: dict[tuple, surrogates.Hyper | None] = {}
        self._fitted: tuple | None = None
        self._design: np.ndarray | None = None
        self.last_info: dict = {}

    # ----- observations -------------------------------------------------------------------
    def _params(self, params: Mapping) -> dict:
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict, got {type(params).__name__}")
        unknown = [k for k in params if k not in self.space.names and k not in self.fixed]
        if unknown:
            raise SpaceError(
                f"unknown parameters {unknown}; the space has {self.space.names}"
                + (f" and fixed {sorted(self.fixed)}" if self.fixed else "")
            )
        own = {k: params[k] for k in self.space.names if k in params}
        self.space.check(own)
        return {d.name: d.python(own[d.name]) for d in self.space.dims}

    def _unit(self, params: Mapping) -> np.ndarray:
        # curve points may sit below a length parameter's min: keep them outside the box
        return np.clip(self.space.to_unit(params, clip=False), -1.0, 2.0)

    def observe(
        self, params: Mapping, score, cost, failed: bool = False, error=None, prior: bool = False
    ) -> None:
        """Record one result (a finished run or one point of a learning curve). ``prior``:
        a result from another sweep (a warm start): it teaches the models, but is not this
        sweep's: ``front()`` and ``observations`` leave it out."""
        p = self._params(params)
        failed = bool(failed) or not _finite(score)
        if failed and error is None and score is not None and not _finite(score):
            error = f"score is {score}"
        if not failed:
            if not _finite(cost) or float(cost) <= 0:
                raise ValueError(
                    f"cost must be a finite number > 0 for a successful run, got {cost!r} "
                    f"(params {p})"
                )
        elif _finite(cost) and float(cost) < 0:
            raise ValueError(f"cost must be >= 0, got {cost!r} (params {p})")
        self._rows.append(
            dict(
                params=p,
                score=float("nan") if failed else float(score),
                cost=float(cost) if _finite(cost) else float("nan"),
                failed=failed,
                error=None if error is None else str(error),
                prior=bool(prior),
            )
        )
        self._units.append(self._unit(p))
        self._pending.pop(_key(p), None)

    def replay(self, history) -> Sweeper:
        """Observe every row of ``history`` (an ``observations`` DataFrame or a list of dicts with
        the parameters and ``score``, ``cost``, ``failed``, ``error``); returns self."""
        rows: Iterable[Mapping]
        rows = history.to_dict("records") if hasattr(history, "to_dict") else history
        for row in rows:
            params = row["params"] if "params" in row else {n: row[n] for n in self.space.names}
            error = row.get("error")
            if error is not None and not isinstance(error, str) and not _finite(error):
                error = None  # pandas' NaN for a missing error
            self.observe(
                params,
                row.get("score"),
                row.get("cost"),
                failed=bool(row.get("failed", False)),
                error=error,
            )
        return self

    def pending(self, params: Mapping) -> None:
        """Declare a trial in flight (until observed with exactly these params, or forgotten)."""
        p = self._params(params)
        self._pending[_key(p)] = np.clip(self._unit(p), 0.0, 1.0)

    def forget(self, params: Mapping) -> None:
        """Drop a trial from the pending set (no error if it was not there)."""
        self._pending.pop(_key(self._params(params)), None)

    # ----- models -------------------------------------------------------------------------
    def _arrays(self):
        failed = np.array([r["failed"] for r in self._rows], dtype=bool)
        units = np.array(self._units).reshape(len(self._rows), len(self.space))
        score = np.array([r["score"] for r in self._rows], dtype=float)
        cost = np.array([r["cost"] for r in self._rows], dtype=float)
        return units, score, cost, ~failed

    def _priority(self, score, cost) -> np.ndarray:
        """Indices to keep when subsampling: the front, the best, then the newest."""
        n = len(score)
        front = np.flatnonzero(pareto_mask(cost, score))
        best = np.argsort(-score, kind="stable")[: max(1, self.max_points // 8)]
        newest = np.arange(n)[::-1][: self.max_points // 4]
        return np.concatenate([front, best, newest])

    def _milestone_hyper(self, tag: str, m: int, fit: Callable[[int], surrogates.Hyper | None]):
        if m == 0:
            return None
        if (tag, m) not in self._hyper:
            self._hyper[(tag, m)] = fit(m)
        return self._hyper[(tag, m)]

    def _fit(self):
        """Score, cost and success models for the current history and pending set (cached)."""
        key = (len(self._rows), tuple(sorted(self._pending, key=repr)))
        if self._fitted is not None and self._fitted[0] == key:
            return self._fitted[1]
        units, score, cost, ok = self._arrays()
        X, s, c = units[ok], score[ok], cost[ok]
        n = len(s)
        models = {"X_ok": X, "log_cost_ok": np.log(c), "score_ok": s}

        def fit_score(m):
            idx = surrogates.subsample(
                m,
                self.max_hyper_points,
                self._priority(s[:m], c[:m]),
                np.random.default_rng([self.seed, m, 1]),
            )
            return surrogates.ScoreModel(
                X[idx], s[idx], seed=self.seed + m, warp=self.score_warp, restarts=_restarts(m)
            ).hyper

        def fit_cost(m):
            idx = surrogates.subsample(
                m,
                self.max_hyper_points,
                self._priority(s[:m], c[:m]),
                np.random.default_rng([self.seed, m, 2]),
            )
            return surrogates.CostModel(
                X[idx], c[idx], seed=self.seed + m, restarts=_restarts(m)
            ).hyper

        models["success"] = self._fit_success(units, ok)
        models["score"] = models["cost"] = models["score_lied"] = None
        if n == 0:
            self._fitted = (key, models)
            return models
        idx = surrogates.subsample(
            n, self.max_points, self._priority(s, c), np.random.default_rng([self.seed, n, 0])
        )
        m = surrogates.milestone(n)
        score_model = surrogates.ScoreModel(
            X[idx],
            s[idx],
            self._milestone_hyper("score", m, fit_score),
            seed=self.seed + n,
            warp=self.score_warp,
        )
        models["score"] = score_model
        models["cost"] = surrogates.CostModel(
            X[idx], c[idx], self._milestone_hyper("cost", m, fit_cost), seed=self.seed + n
        )
        if self._pending:
            Xp = np.array([self._pending[k] for k in sorted(self._pending, key=repr)])
            believed = score_model.predict(Xp, std=False)
            low = np.quantile(score_model.warp.z, 0.2)
            lies = (Xp, np.minimum(believed, low))
            models["score_lied"] = surrogates.ScoreModel(
                X[idx], s[idx], score_model.hyper, lies=lies, warp=self.score_warp
            )
        self._fitted = (key, models)
        return models

    def _fit_success(self, units, ok):
        n = len(ok)
        if ok.all():
            return surrogates.SuccessModel(units, ok)

        def fit(m):
            idx = surrogates.subsample(
                m,
                self.max_hyper_points,
                np.flatnonzero(~ok[:m])[::-1],
                np.random.default_rng([self.seed, m, 3]),
            )
            return surrogates.SuccessModel(units[idx], ok[idx]).hyper

        m = surrogates.milestone(n)
        if ok[:m].all():
            m = n  # the first failure came after the last milestone: fit on everything now
        hyper = self._milestone_hyper("success", m, fit)
        keep = np.concatenate(
            [np.flatnonzero(~ok)[::-1], np.arange(n)[::-1][: self.max_points // 4]]
        )
        idx = surrogates.subsample(
            n, self.max_points, keep, np.random.default_rng([self.seed, n, 4])
        )
        return surrogates.SuccessModel(units[idx], ok[idx], hyper)

    # ----- suggestions --------------------------------------------------------------------
    def suggest(self, max_cost: float | None = None) -> dict:
        """The next parameters to run: feasible, under the cost cap, plain Python types.

        ``max_cost`` caps this one suggestion below the standing cap (say, the time a sweep
        has left); NoFeasiblePoint if no run is predicted to fit under it."""
        caps = [c for c in (self.max_cost, _cap(max_cost)) if c is not None]
        cap = min(caps) if caps else None
        with surrogates.one_blas_thread():
            return self._suggest(cap)

    def _suggest(self, cap: float | None) -> dict:
        k = self.n_suggested
        rng = np.random.default_rng([self.seed, k])
        n_ok = sum(not r["failed"] for r in self._rows)
        n_prior = sum(not r["failed"] and r["prior"] for r in self._rows)
        if (k < self.n_initial and n_prior < self.n_initial) or n_ok < 3:
            u = self._design_point(k, rng, cap)
            self.last_info = {"design": True}
        else:
            models = self._fit()
            u, self.last_info = propose(
                self.space,
                self.constraints,
                rng,
                score=models["score"],
                score_lied=models["score_lied"],
                cost=models["cost"],
                success=models["success"],
                X_ok=models["X_ok"],
                log_cost_ok=models["log_cost_ok"],
                max_cost=cap,
                length_column=self._length_index,
                fractions=self._fractions(),
                shortest=float(models["X_ok"][:, self._length_index].min())
                if self._length_index is not None
                else -np.inf,
            )
        self.n_suggested = k + 1
        params = self.space.from_unit(u)
        if not self.constraints.ok(params):  # guards the invariant; candidates were filtered
            raise NoFeasiblePoint(
                f"internal: suggestion {params} violates {self.constraints.violations(params)}"
            )
        return params

    def _fractions(self) -> tuple:
        """The fractions of a trial's length at which it reports curve points, read off the
        history: observations equal but for the length are one trial's curve."""
        if self._length_index is None:
            return (1.0,)
        name = self.length
        groups: dict[tuple, list[float]] = {}
        for r in self._rows:
            rest = _key({k: v for k, v in r["params"].items() if k != name})
            groups.setdefault(rest, []).append(float(r["params"][name]))
        seen = []
        for lengths in groups.values():
            top = max(lengths)
            if len(lengths) > 1 and top > 0:
                seen += [v / top for v in lengths if v < top]
        if not seen:
            return (1.0,)
        fracs = np.unique(np.round(seen, 2))
        if len(fracs) > 8:
            fracs = np.unique(np.quantile(fracs, np.linspace(0, 1, 8)).round(2))
        return (*(float(f) for f in fracs if 0 < f < 1), 1.0)

    def _design_point(self, k: int, rng: np.random.Generator, cap: float | None) -> np.ndarray:
        if self._design is None:
            pts = design(self.space, self.seed)
            if self._length_index is not None:
                # explore at shorter lengths first: cheaper, and the curve points of a long
                # run of a good configuration come later
                j = self._length_index
                pts[1:, j] = self.space.snap(pts)[1:, j] * pts[0, j]
            self._design = pts[feasible_mask(self.space, self.constraints, pts)]
        pts = self._design
        if not len(pts):
            pts = rejection_sample(self.space, self.constraints, rng, 64)
        order = np.roll(np.arange(len(pts)), -k)
        pts = pts[order]
        accept = np.ones(len(pts), dtype=bool)
        seen = [np.clip(u, 0, 1) for u in self._units] + list(self._pending.values())
        if seen:
            dist = np.abs(pts[:, None, :] - np.array(seen)[None]).max(axis=2).min(axis=1)
            accept &= dist > 1e-3  # the executor may round a suggestion (ints, lengths)
        models = self._fit() if self._rows else None
        if models is not None:
            accept &= models["success"].predict(pts) >= 0.5
        if cap is not None and models is not None and models["cost"] is not None:
            mu, sd = models["cost"].predict(pts)
            under = mu + UPPER_Z * sd <= math.log(cap)
            if not (under & accept).any():
                under = mu <= math.log(cap)
            if not under.any():
                raise NoFeasiblePoint(
                    f"no design point is predicted to cost under max_cost={cap:.4g} "
                    f"(cheapest predicted: {math.exp(mu.min()):.4g})"
                )
            pts, accept = pts[under], accept[under]
        return pts[int(np.argmax(accept))]  # the first acceptable, else the first under the cap

    # ----- reading the results ------------------------------------------------------------
    @property
    def observations(self):
        """Everything this sweep observed, in order (warm-start rows left out): cost,
        score, the parameters, failed, error."""
        import pandas as pd

        cols = ["cost", "score", *self.space.names, "failed", "error"]
        rows = [
            {
                "cost": r["cost"],
                "score": r["score"],
                **r["params"],
                "failed": r["failed"],
                "error": r["error"],
            }
            for r in self._rows
            if not r["prior"]
        ]
        return pd.DataFrame(rows, columns=cols)

    def _noise_estimate(self) -> float | None:
        """Per-run score noise in score units, from the score model (for the front)."""
        if sum(not r["failed"] for r in self._rows) < 3:
            return None
        with surrogates.one_blas_thread():
            model = self._fit()["score"]
        z = model.warp.z
        s = model.to_score(z)
        q = [0.25, 0.75]
        slope = np.ptp(np.quantile(s, q)) / max(np.ptp(np.quantile(z, q)), 1e-12)
        return float(model.gp.noise_std * slope)

    def front(self, conservative: bool = False):
        """The observed front: cost, score (means over repeats), one column per parameter,
        sorted by cost: the best result observed at each cost, so it always holds the best
        observation. ``conservative=True`` gives a different line, the noise-filtered front
        (see ``pareto``), which drops improvements within the noise."""
        import pandas as pd

        cols = ["cost", "score", *self.space.names]
        ok = [r for r in self._rows if not r["failed"] and not r["prior"]]
        if not ok:
            return pd.DataFrame(columns=cols)
        keys = [_key(r["params"]) for r in ok]
        noise = self._noise_estimate() if conservative else None
        first, cost, score, _ = observed_front(
            keys,
            [r["cost"] for r in ok],
            [r["score"] for r in ok],
            noise=noise,
            conservative=conservative,
        )
        rows = [
            {"cost": c, "score": s, **ok[i]["params"]}
            for i, c, s in zip(first, cost, score, strict=True)
        ]
        return pd.DataFrame(rows, columns=cols)

    def predicted_front(self, n: int = 50, k: float = 2.0):
        """The model's front: for ``n`` costs, the best predicted score among feasible candidates
        predicted to cost no more, with its band (mean -/+ k std, in score units)."""
        import pandas as pd

        cols = ["cost", "score_mean", "score_lo", "score_hi"]
        if sum(not r["failed"] for r in self._rows) < 3:
            return pd.DataFrame(columns=cols)
        with surrogates.one_blas_thread():
            return self._predicted_front(n, k)

    def _predicted_front(self, n, k):
        import pandas as pd

        models = self._fit()
        rng = np.random.default_rng([self.seed, len(self._rows), 0xF0])
        X, lc = models["X_ok"], models["log_cost_ok"]
        parents = np.clip(X[pareto_mask(lc, models["score_ok"])], 0.0, 1.0)
        categorical = np.array([d.kind == "categorical" for d in self.space.dims])
        cand = np.vstack(
            [
                local_candidates(rng, parents, 2048, self.space.scales, categorical),
                rng.random((2048, len(self.space))),
                parents,
            ]
        )
        cand = self.space.snap(cand)
        cand = cand[feasible_mask(self.space, self.constraints, cand)]
        mu_lc, _ = models["cost"].predict(cand)
        if self.max_cost is not None:
            keep = mu_lc <= math.log(self.max_cost)
            cand, mu_lc = cand[keep], mu_lc[keep]
        mean, lo, hi = models["score"].predict_score(cand, k=k)
        top = max(lc.max(), mu_lc.max(initial=-np.inf))
        if self.max_cost:
            top = math.log(self.max_cost)
        grid = np.exp(np.linspace(min(lc.min(), mu_lc.min(initial=np.inf)), top, n))
        m, l, h = (self._bounded(v) for v in _predicted_front(grid, np.exp(mu_lc), mean, lo, hi))
        df = pd.DataFrame({"cost": grid, "score_mean": m, "score_lo": l, "score_hi": h})
        return df.dropna().reset_index(drop=True)

    def predict(self, params: Mapping, k: float = 2.0) -> dict | None:
        """The models' view of ``params``: predicted score with its band (mean -/+ k std, in
        score units), cost and P(success); None before three successful observations."""
        if sum(not r["failed"] for r in self._rows) < 3:
            return None
        X = self._unit(self._params(params))[None]
        with surrogates.one_blas_thread():
            models = self._fit()
            mean, lo, hi = (self._bounded(v) for v in models["score"].predict_score(X, k=k))
            mu, _ = models["cost"].predict(X)
            p = models["success"].predict(X)
        return {
            "score": float(mean[0]),
            "score_lo": float(lo[0]),
            "score_hi": float(hi[0]),
            "score_std": float((hi[0] - lo[0]) / (2 * k)),
            "cost": float(math.exp(mu[0])),
            "p_success": float(p[0]),
        }

    def _bounded(self, values):
        """Predictions clipped to ``score_bounds``: a bounded metric is never shown past its
        bounds (the mean and both ends of the band are clipped; the model is unchanged)."""
        if self.score_bounds is None:
            return values
        return np.clip(values, *self.score_bounds)

    def should_stop(self, score, cost, target_cost=None) -> tuple[bool, str]:
        """Whether a running trial now at (score, cost) is far below finished runs at that cost."""
        ok = [r for r in self._rows if not r["failed"]]
        noise = None
        if len(ok) >= self.stop_settings["min_finished"]:
            with surrogates.one_blas_thread():
                noise = self._noise_estimate()
        return should_prune(
            [r["score"] for r in ok],
            [r["cost"] for r in ok],
            float("nan") if score is None else float(score),
            float(cost),
            target_cost,
            noise=noise,
            **self.stop_settings,
        )

    def __repr__(self) -> str:
        n_fail = sum(r["failed"] for r in self._rows)
        return (
            f"Sweeper({self.space!r}, {len(self._rows)} observations ({n_fail} failed), "
            f"{len(self._pending)} pending, {self.n_suggested} suggested)"
        )
