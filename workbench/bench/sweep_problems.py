"""Problems with known answers for ``bench sweep``, and how a found front is scored.

Each problem is a plain class: ``space`` and ``constraints`` in the sweeper's format,
``evaluate(params, rng) -> Curve`` (the observations one trial would produce),
``true_score``/``true_cost`` (noise-free values), ``default_params`` (one full default
run) and ``true_front()`` (computed once per process and cached).

The score of a found front is its hypervolume in (log cost, score) space, minimizing cost
and maximizing score, against a fixed reference point per problem (``Problem.reference``):
the dearest run that finishes anywhere in the space, and the worst score a run can have.

The RL-shaped problem's space is what a researcher sweeps around a sensible PPO default,
the shape of the project's own sweep spaces (``workbench/envs/*/env.toml``,
``[sweep.space]``), not the widest ranges a parameter could take:

- ``learning_rate`` log 3e-4..1e-2 (1.5 decades around the default 1e-3): nobody sweeps
  PPO over four decades; the best rate (1.2e-3..6.6e-3 with the network and the
  minibatch) sits inside, and the top of the range diverges for big networks.
- ``gamma`` logit 0.95..0.9995 (horizons 20..2000 steps) and ``ent_coef`` log 1e-5..0.03,
  as in the breakout space; their peaks (0.998, 2e-3) are off-centre.
- ``update_epochs`` 1..4, ``num_envs`` pow2 64..1024, ``bptt_horizon`` pow2 16..128 and
  ``minibatch_size`` pow2 1024..32768: the discrete choices of a vectorized-env trainer,
  with the usual constraint ``minibatch_size <= num_envs * bptt_horizon`` (~28% of the box
  breaks it).
- ``hidden_size`` pow2 64..512, the network size: capacity against cost per step, and
  ``hidden_size * num_envs * bptt_horizon > 2**23`` runs out of memory at start-up (~18%
  of the feasible box).
- ``total_steps`` log 2e6..6e7 (1.5 decades around the default 1e7), the training length:
  the cost axis of the front, and what curve points stand for.

The default run (cost ~55, score ~0.26) is a mediocre but sane configuration; the best run
(score ~0.95, ~20x the default's cost) is interior in every parameter but the length. The
true front is computed on a dense grid (every discrete combination, 201 lengths, the best
learning rate per pair) and its hypervolume is within ~0.1% of the continuous one (a test
checks that local search around it finds nothing better).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

_COMPARE = re.compile(r"(<=|>=|<|>)")
# problem name -> (true front as (n, 2) of (cost, score), its points in the unit box)
_FRONTS: dict[str, tuple[np.ndarray, np.ndarray]] = {}
# problem name -> (reference point, true front's hypervolume): constants, read per scoring
_SCALES: dict[str, tuple[tuple[float, float], float]] = {}


# ---- scoring a front ------------------------------------------------------------------


def pareto_mask(cost, score) -> np.ndarray:
    """Boolean mask of the points no other point beats (cost lower or equal, score higher
    or equal, one strictly). NaN scores are never on the front; exact duplicates keep one."""
    cost = np.asarray(cost, dtype=float)
    score = np.asarray(score, dtype=float)
    mask = np.zeros(len(cost), dtype=bool)
    valid = np.flatnonzero(np.isfinite(cost) & np.isfinite(score))
    order = valid[np.lexsort((-score[valid], cost[valid]))]  # cost up, then score down
    best = -np.inf
    for i in order:
        if score[i] > best:
            mask[i] = True
            best = score[i]
    return mask


def hypervolume(log_cost, score, ref: tuple[float, float]) -> float:
    """Area dominated by the points inside the box below ``ref`` = (worst log cost,
    worst score): the union of rectangles [c, ref_c] x [ref_s, s], summed as strips."""
    log_cost = np.asarray(log_cost, dtype=float)
    score = np.asarray(score, dtype=float)
    ref_c, ref_s = ref
    inside = np.isfinite(log_cost) & np.isfinite(score) & (log_cost < ref_c) & (score > ref_s)
    c, s = log_cost[inside], score[inside]
    keep = pareto_mask(c, s)
    c, s = c[keep], s[keep]
    order = np.argsort(c)  # along the front: cost up, score up
    area, below = 0.0, ref_s
    for ci, si in zip(c[order], s[order], strict=True):
        area += (ref_c - ci) * (si - below)
        below = si
    return float(area)


# ---- spaces ------------------------------------------------------------------------------
# The unit encoding puts every parameter in [0, 1]: continuous kinds on their natural scale,
# discrete kinds (pow2, int, categorical) as equal bins, so uniform u samples uniformly.


def _logit(x):
    return np.log(x) - np.log1p(-x)


def levels(spec: dict) -> list | None:
    """The values of a discrete parameter in order, or None for a continuous one."""
    kind = spec["kind"]
    if kind == "pow2":
        lo, hi = round(math.log2(spec["min"])), round(math.log2(spec["max"]))
        return [2**e for e in range(lo, hi + 1)]
    if kind == "int":
        return list(range(int(spec["min"]), int(spec["max"]) + 1))
    if kind == "categorical":
        return list(spec["values"])
    return None


def decode(space: dict, u: np.ndarray) -> dict[str, np.ndarray]:
    """Unit-cube rows (n, d), columns in ``space`` order, to a dict of value arrays."""
    u = np.clip(np.atleast_2d(np.asarray(u, dtype=float)), 0.0, 1.0)
    out = {}
    for j, (name, spec) in enumerate(space.items()):
        x = u[:, j]
        kind = spec["kind"]
        vals = levels(spec)
        if vals is not None:
            idx = np.minimum((x * len(vals)).astype(int), len(vals) - 1)
            out[name] = np.asarray(vals, dtype=object if kind == "categorical" else float)[idx]
        elif kind == "linear":
            out[name] = spec["min"] + x * (spec["max"] - spec["min"])
        elif kind == "log":
            lo, hi = np.log(spec["min"]), np.log(spec["max"])
            out[name] = np.exp(lo + x * (hi - lo))
        elif kind == "logit":
            lo, hi = _logit(spec["min"]), _logit(spec["max"])
            out[name] = 1.0 / (1.0 + np.exp(-(lo + x * (hi - lo))))
        else:
            raise ValueError(f"space[{name!r}]: unknown kind {kind!r}")
    return out


def encode(space: dict, params: dict) -> np.ndarray:
    """One params dict to its unit-cube row (discrete values at the centre of their bin)."""
    row = []
    for name, spec in space.items():
        x = params[name]
        vals = levels(spec)
        if vals is not None:
            row.append((vals.index(x) + 0.5) / len(vals))
            continue
        lo, hi = spec["min"], spec["max"]
        if spec["kind"] == "log":
            x, lo, hi = np.log(x), np.log(lo), np.log(hi)
        elif spec["kind"] == "logit":
            x, lo, hi = _logit(x), _logit(lo), _logit(hi)
        row.append(float(np.clip((x - lo) / (hi - lo), 0.0, 1.0)))
    return np.array(row)


def rows(space: dict, cols: dict[str, np.ndarray]) -> list[dict]:
    """A dict of value arrays to a list of params dicts with plain Python values."""
    n = len(next(iter(cols.values())))
    out = []
    for i in range(n):
        p = {}
        for name, spec in space.items():
            v = cols[name][i]
            if spec["kind"] in ("pow2", "int"):
                v = int(v)
            elif spec["kind"] != "categorical":
                v = float(v)
            p[name] = v
        out.append(p)
    return out


def constraint_margins(constraints, params) -> np.ndarray:
    """Each constraint as a number that is <= 0 exactly when it holds (lhs - rhs for ``<=``),
    for scalar params or a dict of arrays; shape (len(constraints), ...)."""
    out = []
    names = {
        k: (np.asarray(v, dtype=float) if not np.isscalar(v) else v) for k, v in params.items()
    }
    for expr in constraints:
        parts = _COMPARE.split(expr)
        if len(parts) != 3:
            raise ValueError(f"constraint {expr!r}: expected one comparison")
        lhs, op, rhs = parts
        a = eval(lhs, {"__builtins__": {}}, names)  # expressions come from our own problems
        b = eval(rhs, {"__builtins__": {}}, names)
        m = a - b if op in ("<=", "<") else b - a
        if op in ("<", ">"):
            m = m + 1e-12  # strict: equality violates
        out.append(np.asarray(m, dtype=float))
    return np.array(out)


# ---- problems ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """What one trial produces. ``points``: (steps fraction, cost so far, noisy score), in
    order; a failure is a last point with a NaN score at the fraction where it happened,
    and ``error`` says which ("oom", "nan", "constraint")."""

    points: list[tuple[float, float, float]]
    error: str | None = None

    @property
    def cost(self) -> float:
        return self.points[-1][1]

    @property
    def failed(self) -> bool:
        return self.error is not None


class Problem:
    """What the two problems share: feasibility, the cached true front, the reference."""

    name = ""
    space: dict = {}
    constraints: tuple[str, ...] = ()
    default_params: dict = {}
    length: str | None = None  # the training-length parameter, if curve points exist
    crash_cost = 1.0  # what a run rejected at start-up costs (constraint violated)
    score_floor = 0.0  # the worst score a finished run can have (reference, peers' penalty)

    def feasible(self, params) -> bool | np.ndarray:
        """Whether the constraints hold: a bool for one params dict, a bool array for a
        dict of value arrays."""
        if self.constraints:
            return np.all(constraint_margins(self.constraints, params) <= 0, axis=0)
        first = next(iter(params.values()))
        return True if np.isscalar(first) else np.ones(len(first), dtype=bool)

    def at_fraction(self, params: dict, fraction: float) -> dict:
        """The params of the shorter run that a curve point stands for."""
        if self.length is None or fraction >= 1.0:
            return dict(params)
        steps = params[self.length] * fraction
        return {**params, self.length: round(float(steps))}

    def true_curve(self, params: dict) -> list[tuple[float, float]]:
        """Noise-free (cost, score) of the points a run of ``params`` reports and is
        credited with; one point where a trial reports no curve."""
        return [(self.true_cost(params), self.true_score(params))]

    def oracle(self, budget: float, n_candidates: int = 150, max_runs: int = 64) -> dict:
        """What perfect knowledge buys with ``budget``: runs of the true front's own
        configurations, chosen for the largest hypervolume ratio they are credited with.
        The best pair of ``n_candidates`` front points spread along it (every pair), then
        greedy additions while one fits and helps. A lower bound on the best possible
        choice, and an upper mark for any sweeper: it pays nothing to learn."""
        front = self.true_front()
        params = self.true_front_params()
        idx = np.unique(np.linspace(0, len(front) - 1, n_candidates).astype(int))
        idx = idx[front[idx, 0] <= budget]
        curves = {i: self.true_curve(params[i]) for i in idx}

        def ratio(chosen) -> float:
            return self.hv_ratio([pt for i in chosen for pt in curves[i]])

        best: tuple[float, tuple] = (0.0, ())
        for a, i in enumerate(idx):
            best = max(best, (ratio((i,)), (i,)))
            for j in idx[a + 1 :]:
                if front[i, 0] + front[j, 0] <= budget:
                    best = max(best, (ratio((i, j)), (i, j)))
        chosen = list(best[1])
        while chosen and len(chosen) < max_runs:
            left = budget - front[chosen, 0].sum()
            options = [(ratio((*chosen, i)), i) for i in idx if front[i, 0] <= left]
            if not options or max(options)[0] <= best[0] + 1e-9:
                break
            value, i = max(options)
            chosen.append(i)
            best = (value, tuple(chosen))
        return {
            "hv_ratio": float(best[0]),
            "cost": float(front[chosen, 0].sum()) if chosen else 0.0,
            "runs": [params[i] for i in chosen],
        }

    def true_front(self) -> np.ndarray:
        """(n, 2) array of (cost, score) of the true front, sorted by cost."""
        return self._front()[0]

    def true_front_params(self) -> list[dict]:
        """The parameters of each true-front point, in the order of ``true_front()``."""
        return rows(self.space, decode(self.space, self._front()[1]))

    def _front(self) -> tuple[np.ndarray, np.ndarray]:
        if self.name not in _FRONTS:
            cost, score, units = self._front_points()
            keep = np.flatnonzero(pareto_mask(cost, score))
            keep = keep[np.argsort(cost[keep])]
            _FRONTS[self.name] = (np.column_stack([cost[keep], score[keep]]), units[keep])
        return _FRONTS[self.name]

    def reference(self) -> tuple[float, float]:
        """The fixed (log cost, score) reference: the worst cost a run that finishes can
        have and the worst score it can have, over the whole space."""
        return self._scale()[0]

    def worst_cost(self) -> float:
        raise NotImplementedError

    def hv_ratio(self, points) -> float:
        """Hypervolume of (cost, score) ``points`` over the true front's (0 for none)."""
        if not len(points):
            return 0.0
        cost, score = np.asarray(points, dtype=float).T
        return hypervolume(np.log(cost), score, self.reference()) / self.true_hypervolume()

    def true_hypervolume(self) -> float:
        return self._scale()[1]

    def _scale(self) -> tuple[tuple[float, float], float]:
        if self.name not in _SCALES:
            ref = (math.log(self.worst_cost()), self.score_floor)
            front = self.true_front()
            _SCALES[self.name] = (ref, hypervolume(np.log(front[:, 0]), front[:, 1], ref))
        return _SCALES[self.name]

    def _front_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate (cost, score, unit-box rows) from which the front is kept."""
        raise NotImplementedError


class RLProblem(Problem):
    """A PPO-shaped sweep with a known answer (the space and its reasons: module docstring).

    Score, a normalized return in [0, 1): ``ceiling * (1 - exp(-(steps / tau) ** 0.8))``.
    The ceiling is the network's capacity (best at 256 units, 512 no better) times factors
    for gamma (best at 0.998), the entropy coefficient (best at 2e-3), the BPTT horizon
    (best near 40) and the epochs (4 over-fits a little), and a factor for the learning rate
    around ``lr_best``, which falls as the network grows and rises with the minibatch (the
    usual batch-size scaling). ``tau`` (steps to learn) grows with the envs (staler, fewer
    updates per sample), the minibatch, the network, fewer epochs and a learning rate below
    ``lr_best``; so a rate above the best learns faster and tops out lower, and the best rate
    for a short run is higher than for a long one. Noise shrinks as 1/sqrt(steps) and is
    correlated along one run.

    Cost (seconds): a start-up plus steps times a per-step cost: rollouts (dearer with the
    network, cheaper with more envs, which batch inference) and training (epochs times a
    per-sample cost that grows with the network, plus a fixed cost per minibatch). More
    envs, bigger minibatches and fewer epochs buy speed with sample efficiency; a bigger
    network buys ceiling with speed.

    Failures: ``hidden_size * num_envs * bptt_horizon > 2**23`` (the activations kept for
    BPTT) runs out of memory at start-up (``oom_cost``); a learning rate above 3x
    ``lr_best`` diverges to NaN partway, sooner the further above (it costs what it ran, and
    shorter runs of it finish).
    """

    name = "rl"
    length = "total_steps"
    space = {
        "total_steps": {"kind": "log", "min": 2e6, "max": 6e7},
        "learning_rate": {"kind": "log", "min": 3e-4, "max": 1e-2},
        "gamma": {"kind": "logit", "min": 0.95, "max": 0.9995},
        "ent_coef": {"kind": "log", "min": 1e-5, "max": 3e-2},
        "update_epochs": {"kind": "int", "min": 1, "max": 4},
        "num_envs": {"kind": "pow2", "min": 64, "max": 1024},
        "bptt_horizon": {"kind": "pow2", "min": 16, "max": 128},
        "minibatch_size": {"kind": "pow2", "min": 1024, "max": 32768},
        "hidden_size": {"kind": "pow2", "min": 64, "max": 512},
    }
    constraints = ("minibatch_size <= num_envs * bptt_horizon",)
    default_params = {
        "total_steps": 10_000_000,
        "learning_rate": 1e-3,
        "gamma": 0.99,
        "ent_coef": 0.01,
        "update_epochs": 2,
        "num_envs": 256,
        "bptt_horizon": 64,
        "minibatch_size": 8192,
        "hidden_size": 128,
    }
    fractions = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    startup_cost = 5.0
    oom_cost = 2.0
    oom_limit = 2**23
    diverge_factor = 3.0  # a learning rate this far above lr_best diverges
    best_gamma, best_ent = 0.998, 2e-3  # where their ceiling factors peak

    @staticmethod
    def lr_best(hidden_size, minibatch_size):
        return 2.5e-3 * (minibatch_size / 4096) ** 0.3 * np.sqrt(128.0 / hidden_size)

    def model(self, p: dict) -> dict[str, np.ndarray]:
        """Noise-free score and cost of whole runs, vectorized over arrays of params;
        ``fail_steps`` is where a run diverges (inf: never), ``oom`` whether it cannot start."""
        f = {k: np.asarray(v, dtype=float) for k, v in p.items()}
        steps, lr, gamma, ent = f["total_steps"], f["learning_rate"], f["gamma"], f["ent_coef"]
        h, envs, bptt = f["hidden_size"], f["num_envs"], f["bptt_horizon"]
        mb, epochs = f["minibatch_size"], f["update_epochs"]

        lr_best = self.lr_best(h, mb)
        lh = np.log2(h)
        capacity = 1 - 0.25 * np.exp(-(lh - 6) / 1.2) - 0.03 * np.maximum(lh - 8, 0) ** 2
        q_lr = np.exp(-0.5 * (np.log10(lr / lr_best) / 0.6) ** 2)
        horizon = np.log10(1 - gamma) - np.log10(1 - self.best_gamma)
        q_gamma = 0.6 + 0.4 * np.exp(-0.5 * (horizon / 0.45) ** 2)
        q_ent = 0.8 + 0.2 * np.exp(-0.5 * ((np.log10(ent / self.best_ent)) / 0.7) ** 2)
        q_bptt = 0.85 + 0.15 * np.exp(-0.5 * (np.log2(bptt) - 5.3) ** 2)
        q_epochs = 1 - 0.04 * np.maximum(epochs - 3, 0) ** 2
        q_mb = 1 - 0.03 * np.maximum(np.log2(4096 / mb), 0) ** 2  # noisy small batches
        ceiling = capacity * q_lr * q_gamma * q_ent * q_bptt * q_epochs * q_mb

        tau = (
            2e6
            * (1 + 2 / epochs)
            * np.sqrt(1 + envs / 512)
            * (mb / 4096) ** 0.25
            * (h / 128) ** 0.15
            * np.sqrt(np.maximum(lr_best / lr, 1.0))
        )
        score = ceiling * (1 - np.exp(-((steps / tau) ** 0.8)))

        net = (h / 128) ** 2
        rollout = 1e-6 * (1 + 0.5 * net) * (1 + 128 / envs)
        train = epochs * (1e-6 * (0.3 + 0.7 * net) + 3e-3 / mb)
        per_step = rollout + train
        cost = self.startup_cost + steps * per_step

        over = np.log10(lr / (self.diverge_factor * lr_best))
        fail_steps = np.where(
            over > 0, self.space["total_steps"]["max"] * 10 ** (-3 * over), np.inf
        )
        oom = h * envs * bptt > self.oom_limit
        return {
            "score": score,
            "cost": cost,
            "per_step": per_step,
            "fail_steps": fail_steps,
            "oom": oom,
        }

    def _grid(self) -> dict[str, np.ndarray]:
        """Every combination of the discrete parameters that meets the constraint and fits
        in memory, as value arrays."""
        names = ("hidden_size", "num_envs", "bptt_horizon", "minibatch_size", "update_epochs")
        grid = np.meshgrid(*(levels(self.space[n]) for n in names), indexing="ij")
        cols = {n: g.ravel().astype(float) for n, g in zip(names, grid, strict=True)}
        ok = self.feasible(cols) & (
            cols["hidden_size"] * cols["num_envs"] * cols["bptt_horizon"] <= self.oom_limit
        )
        return {n: v[ok] for n, v in cols.items()}

    def worst_cost(self) -> float:
        """The dearest run that finishes: the cost depends only on the discrete parameters
        and the length, so it is the dearest combination at full length (the smallest
        learning rate never diverges)."""
        cols = self._grid()
        cols["total_steps"] = np.full(len(cols["hidden_size"]), self.space["total_steps"]["max"])
        lr_min = self.space["learning_rate"]["min"]
        assert np.all(lr_min < self.diverge_factor * self.lr_best(cols["hidden_size"], 32768))
        fixed = {k: self.default_params[k] for k in ("gamma", "ent_coef")}
        return float(self.model({**cols, **fixed, "learning_rate": lr_min})["cost"].max())

    def noise_sd(self, steps):
        return 0.03 * np.sqrt(1e7 / np.asarray(steps, dtype=float))

    def true_score(self, params: dict) -> float:
        """Noise-free final score; NaN where the run fails (OOM, divergence, constraint)."""
        if not self.feasible(params):
            return math.nan
        m = self.model(params)
        if m["oom"] or params["total_steps"] >= m["fail_steps"]:
            return math.nan
        return float(m["score"])

    def true_cost(self, params: dict) -> float:
        """Noise-free cost of the run, failures included (they cost what they ran)."""
        if not self.feasible(params):
            return self.crash_cost
        m = self.model(params)
        if m["oom"]:
            return self.oom_cost
        steps = min(float(params["total_steps"]), float(m["fail_steps"]))
        return float(self.startup_cost + steps * m["per_step"])

    def reported_fractions(self, total_steps: float) -> list[float]:
        """The fractions of its length at which a run reports a point, failures aside: none
        shorter than the space allows, except the run's end."""
        lo = self.space["total_steps"]["min"]
        return [f for f in self.fractions if f >= 1.0 or f * total_steps >= lo]

    def true_curve(self, params: dict) -> list[tuple[float, float]]:
        """The noise-free points a run reports (as ``evaluate``, up to a failure)."""
        out = []
        for frac in self.reported_fractions(params["total_steps"]):
            at = self.at_fraction(params, frac)
            score = self.true_score(at)
            if math.isnan(score):
                break
            out.append((self.true_cost(at), score))
        return out

    def evaluate(self, params: dict, rng: np.random.Generator) -> Curve:
        if not self.feasible(params):
            return Curve([(0.0, self.crash_cost, math.nan)], "constraint")
        m = self.model(params)
        if m["oom"]:
            return Curve([(0.0, self.oom_cost, math.nan)], "oom")
        total = float(params["total_steps"])
        fail = float(m["fail_steps"])
        run_z = rng.standard_normal()  # one run's luck, shared by its points
        points = []
        for frac in self.reported_fractions(total):
            steps = frac * total
            if steps >= fail:
                break
            sub = self.model({**params, "total_steps": steps})
            noise = self.noise_sd(steps) * (0.8 * run_z + 0.6 * rng.standard_normal())
            points.append((frac, float(sub["cost"]), float(sub["score"] + noise)))
        if fail <= total:
            cost = self.startup_cost + fail * float(m["per_step"])
            points.append((fail / total, cost, math.nan))
            return Curve(points, "nan")
        return Curve(points)

    def sample(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """``n`` feasible points (constraints hold; failures allowed), as value arrays."""
        out: dict[str, list] = {k: [] for k in self.space}
        have = 0
        while have < n:
            cols = decode(self.space, rng.random((2 * (n - have) + 16, len(self.space))))
            ok = np.flatnonzero(self.feasible(cols))[: n - have]
            for k in out:
                out[k].append(cols[k][ok])
            have += len(ok)
        return {k: np.concatenate(v) for k, v in out.items()}

    def _scored(self, cols):
        m = self.model(cols)
        score = np.where(m["oom"] | (cols["total_steps"] >= m["fail_steps"]), np.nan, m["score"])
        return m["cost"], score

    def _front_points(self, n_steps: int = 201, n_lr: int = 49, rounds: int = 30):
        """The best run of every feasible discrete combination at every length of a dense
        log grid. Gamma and the entropy coefficient only scale the ceiling, so they sit at
        their peaks; the learning rate trades speed for ceiling (and diverges past a point
        that depends on the length), so it is searched per (combination, length): a log
        grid, then golden-section steps inside the best grid cell."""
        cols = self._grid()
        k = len(cols["hidden_size"])
        lo, hi = self.space["total_steps"]["min"], self.space["total_steps"]["max"]
        steps = np.geomspace(lo, hi, n_steps)
        cols = {name: np.repeat(v, n_steps) for name, v in cols.items()}
        cols["total_steps"] = np.tile(steps, k)
        for name, best in (("gamma", self.best_gamma), ("ent_coef", self.best_ent)):
            spec = self.space[name]
            cols[name] = np.full(k * n_steps, np.clip(best, spec["min"], spec["max"]))
        log_lr = np.linspace(
            math.log(self.space["learning_rate"]["min"]),
            math.log(self.space["learning_rate"]["max"]),
            n_lr,
        )

        def score_at(x, rows_=slice(None)):
            sub = {name: v[rows_] for name, v in cols.items()}
            score = self._scored({**sub, "learning_rate": np.exp(x)})[1]
            return np.where(np.isnan(score), -np.inf, score)

        best_j = np.empty(k * n_steps, dtype=int)
        for start in range(0, k * n_steps, 8192):  # in chunks: (rows, n_lr) at a time
            part = slice(start, min(start + 8192, k * n_steps))
            x = np.broadcast_to(log_lr, (part.stop - start, n_lr))
            sub = {name: v[part, None] for name, v in cols.items()}
            score = self._scored({**sub, "learning_rate": np.exp(x)})[1]
            best_j[part] = np.argmax(np.where(np.isnan(score), -np.inf, score), axis=1)
        a = log_lr[np.maximum(best_j - 1, 0)]
        b = log_lr[np.minimum(best_j + 1, n_lr - 1)]
        ratio = (math.sqrt(5) - 1) / 2
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        fc, fd = score_at(c), score_at(d)
        for _ in range(rounds):
            left = fc >= fd  # the maximum lies in [a, d]
            b, a = np.where(left, d, b), np.where(left, a, c)
            c, d = np.where(left, b - ratio * (b - a), d), np.where(left, c, a + ratio * (b - a))
            fc, fd = np.where(left, score_at(c), fc), np.where(left, fc, score_at(d))
        x = np.where(fc >= fd, c, d)
        grid_x = log_lr[best_j]
        refined, grid_score = score_at(x), score_at(grid_x)
        cols["learning_rate"] = np.exp(np.where(refined >= grid_score, x, grid_x))
        cost, score = self._scored(cols)
        return cost, score, _encode_cols(self.space, cols)


def _encode_cols(space: dict, cols: dict[str, np.ndarray]) -> np.ndarray:
    """Vectorized ``encode`` for value arrays (discrete values at their bin centres)."""
    out = []
    for name, spec in space.items():
        x = cols[name]
        vals = levels(spec)
        if vals is not None:
            idx = np.searchsorted(np.asarray(vals, dtype=float), np.asarray(x, dtype=float))
            out.append((idx + 0.5) / len(vals))
            continue
        lo, hi = spec["min"], spec["max"]
        x = np.asarray(x, dtype=float)
        if spec["kind"] == "log":
            x, lo, hi = np.log(x), np.log(lo), np.log(hi)
        elif spec["kind"] == "logit":
            x, lo, hi = _logit(x), _logit(lo), _logit(hi)
        out.append(np.clip((x - lo) / (hi - lo), 0.0, 1.0))
    return np.column_stack(out)


class ZDT1Problem(Problem):
    """ZDT1 (Zitzler, Deb & Thiele 2000) with n = 6: f1 = x1, g = 1 + 9 * mean(x2..x6),
    f2 = g * (1 - sqrt(f1 / g)); the front is g = 1, f2 = 1 - sqrt(f1). Charged as
    cost = 1 + 9 * f1 and score = -f2 (+ N(0, 0.01) noise); one observation per trial.
    x1 plays the training length, so the "full default run" is x1 = 1 (cost 10) with
    the other variables at the centre."""

    name = "zdt1"
    n_var = 6
    space = {f"x{i}": {"kind": "linear", "min": 0.0, "max": 1.0} for i in range(1, n_var + 1)}
    default_params = {"x1": 1.0, **{f"x{i}": 0.5 for i in range(2, n_var + 1)}}
    score_floor = -10.0  # f2 <= g <= 10
    noise = 0.01

    def worst_cost(self) -> float:
        return 10.0

    def _f(self, params):
        x = np.array([params[f"x{i}"] for i in range(1, self.n_var + 1)], dtype=float)
        f1 = x[0]
        g = 1 + 9 * np.mean(x[1:], axis=0)
        return f1, g * (1 - np.sqrt(f1 / g))

    def true_score(self, params: dict) -> float:
        return float(-self._f(params)[1])

    def true_cost(self, params: dict) -> float:
        return float(1 + 9 * self._f(params)[0])

    def evaluate(self, params: dict, rng: np.random.Generator) -> Curve:
        score = self.true_score(params) + self.noise * rng.standard_normal()
        return Curve([(1.0, self.true_cost(params), score)])

    def _front_points(self, n: int = 20_001):
        f1 = np.linspace(0.0, 1.0, n)
        units = np.column_stack([f1, np.zeros((n, self.n_var - 1))])  # g = 1
        return 1 + 9 * f1, -(1 - np.sqrt(f1)), units


PROBLEMS = {"rl": RLProblem, "zdt1": ZDT1Problem}
