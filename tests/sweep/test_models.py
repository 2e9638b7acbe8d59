"""Surrogates: the GP's band covers a known function, the rank warp inverts, P(success) drops
where failures happened and only there, and the fit-cost bounds behave."""

import numpy as np
import pytest

from workbench.sweep.models import (
    GP,
    CostModel,
    RankWarp,
    RobustWarp,
    ScoreModel,
    SuccessModel,
    milestone,
    subsample,
)


def noisy_sin(seed, n=30, noise=0.1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1))
    return x, np.sin(6 * x[:, 0]) + noise * rng.standard_normal(n)


@pytest.mark.parametrize("warp", ["robust", "rank", None])
def test_gp_band_covers_a_known_function(warp):
    x, y = noisy_sin(0)
    model = ScoreModel(x, y, warp=warp, seed=0)
    grid = np.linspace(0, 1, 201)[:, None]
    mean, lo, hi = model.predict_score(grid, k=3)
    truth = np.sin(6 * grid[:, 0])
    assert np.mean((truth >= lo) & (truth <= hi)) >= 0.9
    assert np.sqrt(np.mean((mean - truth) ** 2)) < 0.15
    # the band is narrow near data and wider where there is none
    _, sd_near = model.predict(x[:1])
    _, sd_far = model.predict(np.array([[3.0]]))
    assert sd_far[0] > 3 * sd_near[0]


def test_gp_reuses_hyperparameters_without_refitting():
    x, y = noisy_sin(1)
    fitted = GP(x, y, seed=0)
    reused = GP(x, y, hyper=fitted.hyper)
    assert reused.hyper == fitted.hyper
    grid = np.linspace(0, 1, 50)[:, None]
    np.testing.assert_allclose(reused.predict(grid)[0], fitted.predict(grid)[0], atol=1e-8)
    # our fast std equals skopt's own predict
    _, sd_skopt = fitted.gpr.predict(grid, return_std=True)
    np.testing.assert_allclose(fitted.predict(grid)[1], sd_skopt, rtol=1e-5, atol=1e-8)
    assert 0.03 < fitted.noise_std < 0.3  # the noise was 0.1


def test_rank_warp_is_monotone_and_inverts_with_linear_tails():
    scores = np.array([0.0, 1.0, 1.0, 2.0, 100.0, 3.0, -5.0])
    warp = RankWarp(scores)
    assert np.all(np.diff(warp.z[np.argsort(scores, kind="stable")]) >= 0)
    assert warp.z[1] == warp.z[2]  # ties share a rank
    assert abs(warp.z.mean()) < 0.01 and np.ptp(warp.z) < 3  # the outlier is just the top rank
    probe = np.array([-10.0, -5.0, 0.5, 2.5, 100.0, 150.0])
    np.testing.assert_allclose(warp.inverse(warp.forward(probe)), probe, atol=1e-9)
    assert np.all(np.diff(warp.forward(probe)) > 0)


def test_robust_warp_is_linear_in_the_bulk_and_squashes_outliers():
    rng = np.random.default_rng(0)
    scores = np.append(rng.normal(10.0, 2.0, 200), -1e6)  # one diverged run
    warp = RobustWarp(scores)
    bulk = warp.z[:200]
    # linear in the bulk: differences of scores are kept, up to one scale factor
    inside = np.abs(bulk) < 2.5
    np.testing.assert_allclose(np.diff(bulk[inside]), np.diff(scores[:200][inside]) / warp.scale)
    assert 1.5 < warp.scale < 2.5 and abs(warp.center - 10) < 0.5  # the outlier moved neither
    assert -25 < warp.z[-1] < -10  # far below, but not a million units
    probe = np.array([-1e6, -50.0, 0.0, 10.0, 30.0, 1e4])
    np.testing.assert_allclose(warp.inverse(warp.forward(probe)), probe, rtol=1e-9)
    assert np.all(np.diff(warp.forward(probe)) > 0)
    assert RobustWarp([3.0, 3.0, 3.0]).scale == 1.0  # constant scores do not divide by zero


def test_cost_model_predicts_log_cost():
    rng = np.random.default_rng(2)
    x = rng.random((40, 2))
    cost = np.exp(1 + 4 * x[:, 0])  # cost spans decades, depends on one dimension
    model = CostModel(x, cost * np.exp(0.05 * rng.standard_normal(40)))
    mu, sd = model.predict(np.array([[0.5, 0.5]]))
    assert abs(mu[0] - 3.0) < 0.2 and sd[0] < 0.3
    ls = model.hyper.length_scales
    assert ls[1] > 3 * ls[0]  # ARD: the irrelevant dimension gets a long length scale


@pytest.mark.parametrize("seed", [0, 1])
def test_failures_lower_p_success_where_they_happened_only(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((200, 2))
    ok = ~((x[:, 0] > 0.7) & (x[:, 1] > 0.7))  # an out-of-memory corner
    model = SuccessModel(x, ok)
    p_corner = model.predict(np.array([[0.85, 0.85], [0.9, 0.8], [0.8, 0.95]]))
    p_far = model.predict(np.array([[0.2, 0.2], [0.1, 0.8], [0.5, 0.3], [0.55, 0.55]]))
    assert np.all(p_corner < 0.3), p_corner
    assert np.all(p_far > 0.95), p_far
    # an unexplored region keeps the benefit of the doubt
    lone = SuccessModel(x[x[:, 0] > 0.5], ok[x[:, 0] > 0.5])
    assert lone.predict(np.array([[0.05, 0.5]]))[0] > 0.85
    assert SuccessModel(x, np.ones(200, bool)).predict(x[:3]).tolist() == [1.0, 1.0, 1.0]
    all_failed = SuccessModel(x[:4], np.zeros(4, bool)).predict(np.vstack([x[:2], [[9.0, 9.0]]]))
    assert np.all(all_failed[:2] < 0.25) and abs(all_failed[2] - 0.5) < 1e-6


def test_milestones_and_subsample_bound_the_fit_cost():
    assert [milestone(n) for n in (0, 3, 4, 7, 8, 12)] == [0, 0, 4, 4, 8, 12]
    points = sorted({milestone(n) for n in range(2001)})
    assert len(points) < 50 and points[-1] <= 2000  # ~40 refits over 2,000 observations
    gaps = np.diff(points)
    assert gaps[-1] > 150  # rare refits late in a sweep
    rng = np.random.default_rng(0)
    keep = [7, 3, 7, 900]
    idx = subsample(1000, 50, keep, rng)
    assert len(idx) == 50 and len(set(idx)) == 50 and {3, 7, 900} <= set(idx)
    assert np.all(np.diff(idx) > 0)
    assert subsample(30, 50, keep, rng).tolist() == list(range(30))
