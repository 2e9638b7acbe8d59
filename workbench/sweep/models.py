"""Surrogate models: Gaussian processes for score, log-cost and the chance that a run succeeds.

Score and cost are scikit-optimize GPs on the unit box with a Matern(nu=2.5) kernel, one length
scale per dimension (ARD: an irrelevant parameter gets a long scale and stops mattering), and a
fitted white-noise term (RL scores are noisy). Predictions are of the noise-free function: the
std is how unsure the model is, not how noisy a rerun would be.

- Score is modelled on a warped scale so that outliers (a diverged run at -1e6, one lucky seed)
  do not dominate. Two warps, both monotone and invertible so bands map back to scores:
  ``robust`` (the default) centers on the median, scales by the interquartile range and
  squashes values beyond 2.5 robust standard deviations logarithmically; ``rank`` maps the
  i-th smallest of n scores to the normal quantile at (i - 0.5) / n. The rank warp is the more
  robust but throws magnitudes away: a run 10% better than the best becomes one rank higher,
  and the model then hardly predicts anything above the best observed. The front's hypervolume
  is measured in score units, which is why the robust warp is the default. On the bench's
  RL-shaped problem (``bench sweep``, 30 default runs of budget, seeds 0-19) the two are
  within seed noise: a mean 0.758 of the true front's hypervolume against 0.752 for ranks.
- Cost is modelled as log(cost): costs span decades and are multiplicative in their causes.
- Success is a kernel-weighted success rate with a prior (see ``SuccessModel``): it drops
  where failures cluster and stays high away from them.

Fitting cost is bounded two ways. Past ``cap`` points a model conditions on a subsample that
keeps the front, the best and the newest points. Kernel hyperparameters are re-optimized only at
milestones of the number of points (4, 8, 12, ... growing by ~12%); in between the milestone's
kernel is reused with ``optimizer=None``. A milestone's kernel is fitted on exactly the first m
points, so it is a function of the history alone: a sweeper rebuilt from the same history fits
the same kernels (needed for deterministic resume).
"""

from __future__ import annotations

import math
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

# Python 3.11's warnings filters are one list for the whole process, which catch_warnings
# saves and restores: two fits silencing warnings in two threads (two sweeps, or a sweep and
# its view's importance forest) would restore each other's filters and let warnings through.
# Every such block holds this lock.
WARNINGS_LOCK = threading.RLock()

AMPLITUDE_BOUNDS = (0.05, 20.0)
LENGTH_BOUNDS = (0.01, 100.0)
NOISE_BOUNDS = (1e-6, 1.0)
# log-normal prior on each length scale (unit box): median 0.5, one sd a factor e
LENGTH_PRIOR = (math.log(0.5), 1.0)
MEAN_QUANTILE = 0.25


@dataclass(frozen=True)
class Hyper:
    """Fitted kernel hyperparameters (amplitude and noise in units of the normalized target)."""

    amplitude: float
    length_scales: tuple
    noise: float


def make_kernel(d: int, hyper: Hyper | None = None):
    from skopt.learning.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    amp, ls, noise = (
        (1.0, np.full(d, 0.5), 1e-2)
        if hyper is None
        else (
            hyper.amplitude,
            np.array(hyper.length_scales),
            hyper.noise,
        )
    )
    return ConstantKernel(amp, AMPLITUDE_BOUNDS) * Matern(
        length_scale=ls, length_scale_bounds=LENGTH_BOUNDS, nu=2.5
    ) + WhiteKernel(noise, NOISE_BOUNDS)


class GP:
    """A skopt GP fitted once: hyperparameters optimized when ``hyper`` is None, else reused.

    ``predict`` computes the latent mean and std with a triangular solve instead of skopt's
    einsum over the inverse kernel matrix, which is slow for thousands of candidates.
    """

    def __init__(
        self,
        X,
        y,
        hyper: Hyper | None = None,
        seed: int = 0,
        restarts: int = 1,
        mean_quantile: float | None = None,
        length_prior: tuple | None = None,
    ):
        from skopt.learning import GaussianProcessRegressor

        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        # the prior mean: the data's mean, or a low quantile of it (far from every run the
        # model then expects a mediocre result, not an average one)
        self.y_mean = float(np.mean(y) if mean_quantile is None else np.quantile(y, mean_quantile))
        self.y_std = float(np.std(y)) if len(y) > 1 and np.std(y) > 0 else 1.0
        self.gpr = GaussianProcessRegressor(
            kernel=make_kernel(X.shape[1], hyper),
            normalize_y=False,
            noise="gaussian",
            optimizer=_optimizer(X.shape[1], length_prior) if hyper is None else None,
            n_restarts_optimizer=restarts if hyper is None else 0,
            random_state=seed,
        )
        with WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bound-hitting length scales are expected (ARD)
            self.gpr.fit(X, (y - self.y_mean) / self.y_std)
        # we standardized y ourselves: tell the regressor, so its own predict is in y's units
        self.gpr.y_train_mean_, self.gpr.y_train_std_ = self.y_mean, self.y_std
        k = self.gpr.kernel_
        self.hyper = Hyper(
            amplitude=float(k.k1.k1.constant_value),
            length_scales=tuple(float(v) for v in np.atleast_1d(k.k1.k2.length_scale)),
            noise=float(self.gpr.noise_),
        )

    @property
    def noise_std(self) -> float:
        """Std of the observation noise, in the units of ``y``."""
        return math.sqrt(self.hyper.noise) * self.y_std

    def predict(self, X, std: bool = True):
        X = np.atleast_2d(np.asarray(X, dtype=float))
        gpr = self.gpr
        K = gpr.kernel_.k1(X, gpr.X_train_)
        mean = (K @ np.ravel(gpr.alpha_)) * self.y_std + self.y_mean
        if not std:
            return mean
        from scipy.linalg import solve_triangular

        v = solve_triangular(gpr.L_, K.T, lower=True, check_finite=False)
        var = np.maximum(self.hyper.amplitude - np.einsum("ij,ij->j", v, v), 1e-12)
        return mean, np.sqrt(var) * self.y_std

    def correlation(self, A, B) -> np.ndarray:
        """Posterior correlation of the latent function at A[i] and B[i], row by row."""
        from scipy.linalg import solve_triangular

        A = np.atleast_2d(np.asarray(A, dtype=float))
        B = np.atleast_2d(np.asarray(B, dtype=float))
        gpr = self.gpr
        va = solve_triangular(gpr.L_, gpr.kernel_.k1(A, gpr.X_train_).T, lower=True)
        vb = solve_triangular(gpr.L_, gpr.kernel_.k1(B, gpr.X_train_).T, lower=True)
        amp = self.hyper.amplitude
        r = np.sqrt((((A - B) / np.asarray(self.hyper.length_scales)) ** 2).sum(axis=1))
        prior = amp * (1 + math.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-math.sqrt(5) * r)
        cov = prior - np.einsum("ij,ij->j", va, vb)
        var_a = np.maximum(amp - np.einsum("ij,ij->j", va, va), 1e-12)
        var_b = np.maximum(amp - np.einsum("ij,ij->j", vb, vb), 1e-12)
        return np.clip(cov / np.sqrt(var_a * var_b), -1.0, 1.0)


def _optimizer(d: int, length_prior: tuple | None):
    """L-BFGS on the log marginal likelihood, plus a log-normal prior on the length scales
    where one is given (a MAP fit; the score model's). Without it a dimension seen at a few
    values gets a long length scale and the model turns confidently wrong about
    configurations unlike any run; with it, on an RL-shaped problem after 10-20 trials,
    90-96% of held-out scores fall inside the 2-sd band instead of 62-79%, and the best
    predicted configuration scores far higher. Log cost is smooth and mostly decided by a
    few parameters (steps, batch size): its fit keeps maximum likelihood, which gives the
    parameters that do not matter long scales (the prior held them near 5)."""
    from scipy.optimize import minimize

    if length_prior is None:
        return "fmin_l_bfgs_b"  # maximum likelihood
    mu, sd = length_prior
    lengths = slice(1, 1 + d)  # theta: log amplitude, log length scales, log noise

    def optimizer(obj_func, theta0, bounds):
        def objective(theta):
            value, grad = obj_func(theta)
            z = (theta[lengths] - mu) / sd
            grad = np.array(grad, dtype=float)
            grad[lengths] += z / sd
            return value + 0.5 * float(z @ z), grad

        res = minimize(objective, theta0, method="L-BFGS-B", jac=True, bounds=bounds)
        return res.x, res.fun

    return optimizer


class RankWarp:
    """Scores -> normal quantiles of their ranks, and back (monotone, linear past the ends)."""

    def __init__(self, scores):
        from scipy.stats import norm, rankdata

        y = np.asarray(scores, dtype=float)
        n = len(y)
        self.z = norm.ppf((rankdata(y) - 0.5) / n) if n else np.zeros(0)
        self._y, first = np.unique(y, return_index=True)
        self._zu = self.z[first]
        if len(self._y) >= 2:
            k = max(1, len(self._y) // 5)
            self._lo = (self._y[k] - self._y[0]) / (self._zu[k] - self._zu[0])
            self._hi = (self._y[-1] - self._y[-1 - k]) / (self._zu[-1] - self._zu[-1 - k])
        else:
            self._lo = self._hi = max(abs(float(self._y[0])) * 0.1, 1e-6) if n else 1.0

    def forward(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        z = np.interp(y, self._y, self._zu)
        z = np.where(y < self._y[0], self._zu[0] + (y - self._y[0]) / self._lo, z)
        return np.where(y > self._y[-1], self._zu[-1] + (y - self._y[-1]) / self._hi, z)

    def inverse(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        y = np.interp(z, self._zu, self._y)
        y = np.where(z < self._zu[0], self._y[0] + (z - self._zu[0]) * self._lo, y)
        return np.where(z > self._zu[-1], self._y[-1] + (z - self._zu[-1]) * self._hi, y)


class RobustWarp:
    """Scores -> robust z-scores (median, IQR), squashed logarithmically beyond +-``c``.

    Inside the bulk the scale is linear, so a model of warped scores keeps the magnitudes the
    front and its hypervolume are measured in; a diverged run at -1e6 lands a few units beyond
    the others instead of stretching the scale.
    """

    def __init__(self, scores, c: float = 2.5):
        y = np.asarray(scores, dtype=float)
        self.c = c
        self.center = float(np.median(y)) if len(y) else 0.0
        q25, q75 = np.quantile(y, [0.25, 0.75]) if len(y) else (0.0, 0.0)
        scale = (q75 - q25) / 1.349
        if not scale > 0:
            scale = float(np.std(y)) if len(y) and np.std(y) > 0 else 1.0
        self.scale = float(scale)
        self.z = self.forward(y)

    def forward(self, y) -> np.ndarray:
        t = (np.asarray(y, dtype=float) - self.center) / self.scale
        over = np.maximum(np.abs(t) - self.c, 0.0)
        return np.where(over > 0, np.sign(t) * (self.c + np.log1p(over)), t)

    def inverse(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        over = np.maximum(np.abs(z) - self.c, 0.0)
        t = np.where(over > 0, np.sign(z) * (self.c + np.expm1(over)), z)
        return self.center + self.scale * t


WARPS = {"robust": RobustWarp, "rank": RankWarp, None: None}


class ScoreModel:
    """GP on warped scores (``warp``: "robust", "rank" or None).

    ``lies`` (X, z) are pretend observations on the warped scale, for pending trials.
    """

    def __init__(
        self,
        X,
        scores,
        hyper: Hyper | None = None,
        seed: int = 0,
        lies=None,
        warp: str | None = "robust",
        restarts: int = 1,
    ):
        if warp not in WARPS:
            raise ValueError(f"warp must be one of {list(WARPS)}, got {warp!r}")
        scores = np.asarray(scores, dtype=float)
        self.warp = WARPS[warp](scores) if warp else None
        z = self.warp.z if warp else scores
        X = np.asarray(X, dtype=float)
        if lies is not None and len(lies[0]):
            X, z = np.vstack([X, lies[0]]), np.concatenate([z, lies[1]])
        self.gp = GP(
            X,
            z,
            hyper,
            seed=seed,
            restarts=restarts,
            mean_quantile=MEAN_QUANTILE,
            length_prior=LENGTH_PRIOR,
        )
        self.hyper = self.gp.hyper

    def predict(self, X, std: bool = True):
        """Mean and std (or the mean alone) on the warped scale."""
        return self.gp.predict(X, std=std)

    def correlation(self, A, B) -> np.ndarray:
        return self.gp.correlation(A, B)

    def to_z(self, scores) -> np.ndarray:
        return self.warp.forward(scores) if self.warp else np.asarray(scores, dtype=float)

    def to_score(self, z) -> np.ndarray:
        return self.warp.inverse(z) if self.warp else np.asarray(z, dtype=float)

    def predict_score(self, X, k: float = 2.0):
        """Mean, lower and upper band (mean -/+ k std) in score units."""
        mu, sd = self.predict(X)
        return self.to_score(mu), self.to_score(mu - k * sd), self.to_score(mu + k * sd)


class CostModel:
    """GP on log(cost)."""

    def __init__(self, X, costs, hyper: Hyper | None = None, seed: int = 0, restarts: int = 1):
        self.gp = GP(X, np.log(np.asarray(costs, dtype=float)), hyper, seed=seed, restarts=restarts)
        self.hyper = self.gp.hyper

    def predict(self, X):
        """Mean and std of log(cost)."""
        return self.gp.predict(X)


class SuccessModel:
    """P(success): a kernel-weighted success rate, smoothed towards a wider estimate.

    With w_i a Gaussian kernel (one bandwidth per dimension) and a = 0.5 pseudo-observation,
    P(x) = (a * prior(x) + sum_i w_i(x) ok_i) / (a + sum_i w_i(x)), where prior(x) is the same
    estimate with 4x wider bandwidths, whose own prior is max(success rate, 0.5). Near failures
    P drops; inside a region full of failures the wide level is already near 0, so the gaps
    between them are not given the benefit of the doubt; far from every observation P returns
    to the prior, so an unexplored region is not written off because another one crashed.
    Bandwidths (at least 0.05 of the range) maximize the leave-one-out likelihood with a mild
    pull towards 0.2, so a parameter that does not decide failure gets a wide bandwidth.
    Constant 1 until a failure is seen. A GP regression on 0/1 labels, tried first, fell back
    to the overall rate away from data and swung with a few points.
    """

    PRIOR_WEIGHT = 0.5
    LEVELS = (4.0, 1.0)  # bandwidth multipliers, coarse to fine
    MIN_BANDWIDTH = 0.05

    def __init__(self, X, ok, hyper: Hyper | None = None):
        self.X = np.asarray(X, dtype=float)
        self.ok = np.asarray(ok, dtype=bool)
        self.rate = float(self.ok.mean()) if len(self.ok) else 1.0
        self.prior = max(self.rate, 0.5)
        if self.ok.all():
            self.hyper = None
            return
        if hyper is None:
            hyper = Hyper(1.0, tuple(self._fit_bandwidths()), 0.0)
        self.hyper = hyper

    def _weights(self, A, B, bandwidths) -> np.ndarray:
        d2 = np.zeros((len(A), len(B)))
        for j, h in enumerate(bandwidths):
            d2 += ((A[:, j, None] - B[None, :, j]) / h) ** 2
        return np.exp(-0.5 * d2)

    def _fit_bandwidths(self) -> np.ndarray:
        from scipy.optimize import minimize

        X, y = self.X, self.ok.astype(float)
        a, p0 = self.PRIOR_WEIGHT, self.prior
        diff2 = (X[:, None, :] - X[None, :, :]) ** 2  # n x n x d, n is capped by the caller

        def loss(log_h):
            w = np.exp(-0.5 * (diff2 / np.exp(2 * log_h)).sum(axis=2))
            np.fill_diagonal(w, 0.0)
            p = (a * p0 + w @ y) / (a + w.sum(axis=1))
            p = np.clip(p, 1e-6, 1 - 1e-6)
            nll = -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
            return nll + 0.5 * np.sum((log_h - np.log(0.2)) ** 2)

        d = X.shape[1]
        bounds = [(np.log(self.MIN_BANDWIDTH), np.log(2.0))] * d
        res = minimize(loss, np.full(d, np.log(0.2)), method="L-BFGS-B", bounds=bounds)
        return np.exp(res.x)

    def predict(self, X) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if self.hyper is None:
            return np.ones(len(X))
        a, y = self.PRIOR_WEIGHT, self.ok.astype(float)
        h = np.asarray(self.hyper.length_scales)
        p = np.full(len(X), self.prior)
        for scale in self.LEVELS:  # each level's prior is the wider level's estimate
            w = self._weights(X, self.X, h * scale)
            p = (a * p + w @ y) / (a + w.sum(axis=1))
        return p


@contextmanager
def one_blas_thread():
    """Run BLAS on one thread inside the block.

    Our matrices are at most a few hundred wide; on a busy 2-core machine OpenBLAS' spinning
    worker threads make them several times slower, never faster. The limit is lifted on exit.
    """
    import scipy.linalg  # noqa: F401  (load every BLAS first: the limit covers loaded ones only)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def milestone(n: int, first: int = 4, growth: float = 0.12, min_step: int = 4) -> int:
    """The largest refit point <= n in 4, 8, 12, ... (steps grow by ``growth``); 0 below 4."""
    last, m = 0, first
    while m <= n:
        last, m = m, m + max(min_step, math.ceil(growth * m))
    return last


def subsample(n: int, cap: int, keep, rng: np.random.Generator) -> np.ndarray:
    """At most ``cap`` of ``n`` indices: ``keep`` first (in priority order), then random ones."""
    if n <= cap:
        return np.arange(n)
    keep = np.asarray(keep, dtype=int)
    _, first = np.unique(keep, return_index=True)
    keep = keep[np.sort(first)][:cap]
    rest = np.setdiff1d(np.arange(n), keep)
    extra = rng.choice(rest, size=cap - len(keep), replace=False) if cap > len(keep) else []
    return np.sort(np.concatenate([keep, extra]).astype(int))
