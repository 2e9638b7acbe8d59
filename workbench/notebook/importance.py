"""Which swept parameters explain the score: Sobol indices of a random-forest surrogate.

Spearman correlation (the runs browser's chart) sees only monotone, one-at-a-time effects:
a learning rate that is best in the middle of its range, or two parameters that only matter
together, score near zero. Here a random forest is fitted to the score over the parameters in
the sweep space's own coordinates (a log-scale parameter by its logarithm, a categorical one
by its position), and its predictions are decomposed as in functional ANOVA (Hutter et al.,
"An Efficient Approach for Assessing Hyperparameter Importance", ICML 2014), with the
empirical distribution of the observed parameters standing in for the uniform one:

- total effect (Sobol's S_T, Jansen's estimator): the share of the prediction's variance that
  goes when the parameter is resampled from its observed values, its interactions included:
  ``E[(f(x) - f(x with x_j redrawn))^2] / (2 Var f)``;
- main effect (S_1): the variance of the partial dependence ``E[f | x_j]`` over ``Var f``.

The forest's out-of-bag R^2 says how much of the score the surrogate explains at all.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from workbench import metrics as M

COLUMNS = ["parameter", "importance", "main_effect", "spearman"]


def parameter_importance(
    results: pd.DataFrame,
    space,
    target: str = M.SCORE,
    seed: int = 0,
    n_estimators: int = 200,
    repeats: int = 8,
) -> pd.DataFrame:
    """One row per swept parameter, most important first: ``importance`` (total-effect Sobol
    index of a random-forest surrogate, 0..1), ``main_effect`` (first-order index; the gap to
    ``importance`` is interaction), ``spearman`` (rank correlation with ``target``).

    ``results``: a column per parameter of ``space`` (a sweep space dict or ``Space``) and
    ``target``; rows without a finite target or with a missing parameter are left out. The
    frame's ``attrs["r2"]`` holds the forest's out-of-bag R^2 and ``attrs["n"]`` the rows
    used. Fewer than 5 usable rows, or a constant target, give an empty frame.
    """
    from workbench.sweep.space import Space

    space = space if isinstance(space, Space) else Space(space)
    names = [n for n in space.names if n in results.columns]
    empty = pd.DataFrame(columns=COLUMNS)
    empty.attrs.update(r2=math.nan, n=0)
    if target not in results.columns or not names:
        return empty
    y = pd.to_numeric(results[target], errors="coerce")
    ok = np.isfinite(y.to_numpy(dtype=float)) & results[names].notna().all(axis=1).to_numpy()
    rows = results.loc[ok, names]
    y = y[ok].to_numpy(dtype=float)
    if len(y) < 5 or np.ptp(y) == 0:
        empty.attrs["n"] = len(y)
        return empty
    sub = Space({n: space.definition[n] for n in names})
    X = sub.to_unit_many(rows.to_dict("records"), clip=False)
    spearman = {
        n: (_spearman(X[:, j], y) if np.ptp(X[:, j]) > 0 else math.nan) for j, n in enumerate(names)
    }
    varying = [j for j in range(len(names)) if np.ptp(X[:, j]) > 0]
    total = np.zeros(len(names))
    main = np.zeros(len(names))
    r2 = math.nan
    if varying:
        forest = _forest(X[:, varying], y, seed, n_estimators)
        r2 = float(forest.oob_score_)
        t, m = _sobol(forest.predict, X[:, varying], np.random.default_rng(seed), repeats)
        total[varying], main[varying] = t, m
    out = pd.DataFrame(
        {
            "parameter": names,
            "importance": total,
            "main_effect": np.minimum(main, total),
            "spearman": [spearman[n] for n in names],
        }
    )
    out = out.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs.update(r2=r2, n=len(y))
    return out


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = pd.Series(x).rank(), pd.Series(y).rank()
    return float(rx.corr(ry)) if ry.nunique() > 1 else math.nan


def _forest(X: np.ndarray, y: np.ndarray, seed: int, n_estimators: int):
    from sklearn.ensemble import RandomForestRegressor

    # Leaves of two keep single noisy trials from carving out effects of their own.
    forest = RandomForestRegressor(
        n_estimators=n_estimators,
        min_samples_leaf=2,
        max_features=1.0,
        oob_score=True,
        random_state=seed,
        n_jobs=1,
    )
    return forest.fit(X, y)


def _sobol(predict, X: np.ndarray, rng: np.random.Generator, repeats: int):
    """(total, main) Sobol indices of ``predict`` over the empirical distribution of ``X``."""
    n, d = X.shape
    f = predict(X)
    var = float(f.var())
    if var <= 1e-12 * max(1.0, float(np.abs(f).mean()) ** 2):
        return np.zeros(d), np.zeros(d)
    # Every redrawn copy of X at once: one predict call per index, not per repeat.
    total = np.empty(d)
    main = np.empty(d)
    for j in range(d):
        stacked = np.tile(X, (repeats, 1))
        stacked[:, j] = np.concatenate([rng.permutation(X[:, j]) for _ in range(repeats)])
        redrawn = predict(stacked).reshape(repeats, n)
        total[j] = float(((f[None] - redrawn) ** 2).mean() / (2 * var))
        main[j] = _main_effect(predict, X, j, rng) / var
    return np.clip(total, 0.0, 1.0), np.clip(main, 0.0, 1.0)


def _main_effect(predict, X: np.ndarray, j: int, rng: np.random.Generator, grid: int = 24) -> float:
    """Variance over x_j of the partial dependence E[f | x_j] (the other columns as observed)."""
    n = len(X)
    values = X[:, j] if n <= grid else X[rng.choice(n, grid, replace=False), j]
    background = X if n <= 128 else X[rng.choice(n, 128, replace=False)]
    stacked = np.tile(background, (len(values), 1))
    stacked[:, j] = np.repeat(values, len(background))
    pd_values = predict(stacked).reshape(len(values), len(background)).mean(axis=1)
    return float(pd_values.var())
