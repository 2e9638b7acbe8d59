"""Candidate generation and the acquisition's pieces: candidates that pass the filter really
satisfy the constraints, the design starts at the center, log EI is right and stable, the
expected hypervolume improvement of a predicted curve matches a Monte Carlo estimate, and a
trial's curve points sit at the fractions of its length."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from tests.sweep.problems import RL_CONSTRAINTS, RL_SPACE
from workbench.sweep.constraints import Constraints
from workbench.sweep.space import Space
from workbench.sweep.suggest import (
    NoFeasiblePoint,
    curve_units,
    design,
    feasible_mask,
    local_candidates,
    log_expected_hvi,
    log_expected_improvement,
    rejection_sample,
)

SPACE = Space(RL_SPACE | {"act": {"kind": "categorical", "values": ["relu", "tanh", "gelu"]}})
EXPRS = [*RL_CONSTRAINTS, "num_envs * hidden_size <= 16384 or act == 'relu'"]
CONSTRAINTS = Constraints(EXPRS, SPACE.names)


def plain_python_ok(p):
    """The same constraints, written out by hand: an independent check of the filter."""
    return (
        p["minibatch_size"] <= p["num_envs"] * p["bptt_horizon"]
        and p["minibatch_size"] % p["bptt_horizon"] == 0
        and (p["num_envs"] * p["hidden_size"] <= 16384 or p["act"] == "relu")
    )


def test_ten_thousand_filtered_candidates_never_violate_the_constraints():
    rng = np.random.default_rng(0)
    categorical = np.array([d.kind == "categorical" for d in SPACE.dims])
    parents = rejection_sample(SPACE, CONSTRAINTS, rng, 16)
    accepted = []
    while sum(len(a) for a in accepted) < 10_000:
        cand = SPACE.snap(
            np.vstack(
                [
                    local_candidates(rng, parents, 3000, SPACE.scales, categorical),
                    rng.random((1000, len(SPACE))),
                ]
            )
        )
        mask = feasible_mask(SPACE, CONSTRAINTS, cand)
        assert 0 < mask.sum() < len(cand)  # the filter has work to do
        accepted.append(cand[mask])
        rejected = SPACE.from_unit_many(cand[~mask][:200])
        assert not any(plain_python_ok(p) for p in rejected)
    rows = SPACE.from_unit_many(np.vstack(accepted)[:10_000])
    assert all(plain_python_ok(p) for p in rows)
    # a feasible parent's local children are mostly feasible: moves touch few dimensions
    children = SPACE.snap(local_candidates(rng, parents, 2000, SPACE.scales, categorical))
    uniform = SPACE.snap(rng.random((2000, len(SPACE))))
    local_rate = feasible_mask(SPACE, CONSTRAINTS, children).mean()
    assert local_rate > 1.5 * feasible_mask(SPACE, CONSTRAINTS, uniform).mean()


def test_local_candidates_stay_in_the_box_and_move_few_dimensions():
    rng = np.random.default_rng(1)
    parents = np.full((1, 9), 0.5)
    u = local_candidates(rng, parents, 5000, np.ones(9), np.zeros(9, bool))
    assert u.min() >= 0 and u.max() <= 1
    moved = (u != 0.5).sum(axis=1)
    assert moved.min() >= 1 and np.median(moved) <= 3 and (moved == 9).mean() > 0.1


def test_rejection_sampling_raises_when_nothing_is_feasible():
    space = Space({"x": {"kind": "linear", "min": 0, "max": 1}})
    impossible = Constraints(["x == 0.123456789"], ["x"])
    with pytest.raises(NoFeasiblePoint, match="no point satisfying the constraints"):
        rejection_sample(space, impossible, np.random.default_rng(0), 1, max_tries=20_000)


def test_design_starts_at_the_center_then_fills_the_scale_window():
    space = Space(
        {
            "a": {"kind": "linear", "min": 0, "max": 10, "center": 2},
            "b": {"kind": "linear", "min": 0, "max": 1, "center": 0.9, "scale": 0.2},
        }
    )
    pts = design(space, seed=3, n=64)
    assert space.from_unit(pts[0]) == {"a": 2.0, "b": 0.9}
    assert pts[1:, 1].min() >= 0.8 - 1e-12 and pts[1:, 1].max() <= 1.0  # window shifted inside
    assert pts[1:, 0].max() - pts[1:, 0].min() > 0.9  # full width where scale is 1
    np.testing.assert_array_equal(design(space, seed=3, n=64), pts)
    assert not np.array_equal(design(space, seed=4, n=64), pts)


def test_log_expected_improvement_matches_the_formula_and_survives_the_tail():
    mu = np.array([0.0, 1.0, -1.0, 0.3])
    sd = np.array([1.0, 0.5, 2.0, 0.1])
    best = 0.2
    u = (mu - best) / sd
    exact = sd * (norm.pdf(u) + u * norm.cdf(u))
    np.testing.assert_allclose(np.exp(log_expected_improvement(mu, sd, best)), exact, rtol=1e-9)
    far = log_expected_improvement(np.array([-5.0, -10.0, -40.0]), np.ones(3), 0.0)
    assert np.all(np.isfinite(far)) and np.all(np.diff(far) < 0)
    # continuous where the tail formula takes over
    a, b = log_expected_improvement(np.array([-5.999, -6.001]), np.ones(2), 0.0)
    assert abs(a - b) < 0.02


def monte_carlo_hvi(mu, sd, log_cost, front_x, front_y, ref, floor, rng, samples=4000):
    """E[area between a sampled curve's step function and the front's], on a fine grid:
    an estimate written independently of the piecewise formula."""
    x = np.maximum.accumulate(log_cost)
    grid = np.linspace(x[0], ref, 4001)
    mid, dx = (grid[1:] + grid[:-1]) / 2, np.diff(grid)
    front = np.array(
        [
            max([floor, *(fy for fx, fy in zip(front_x, front_y, strict=True) if fx <= g)])
            for g in mid
        ]
    )
    holder = np.searchsorted(x, mid, side="right") - 1  # the curve point holding at each x
    y = mu + sd * rng.standard_normal((samples, len(mu)))
    gain = np.maximum(y[:, holder] - front, 0.0) @ dx
    return gain.mean(), gain.std() / math.sqrt(samples)


@pytest.mark.parametrize("seed", [1, 2, 5])  # 5: the last point lies past ref
def test_log_expected_hvi_matches_a_monte_carlo_estimate(seed):
    rng = np.random.default_rng(seed)
    front_x = np.sort(rng.uniform(0.0, 3.0, size=4))
    front_y = np.sort(rng.normal(size=4))
    log_cost = np.sort(rng.uniform(-0.5, 3.5, size=3))  # the last point may pass the front
    mu = np.sort(rng.normal(size=3)) + 1.0
    sd = rng.uniform(0.1, 0.8, size=3)
    ref, floor = 3.2, float(front_y.min()) - 0.5
    got = np.exp(log_expected_hvi(mu[None], sd[None], log_cost[None], front_x, front_y, ref, floor))
    want, err = monte_carlo_hvi(mu, sd, log_cost, front_x, front_y, ref, floor, rng)
    assert want > 0.01
    assert abs(got[0] - want) < 4 * err + 0.002 * want  # a grid of 4,000 cells: ~1e-3 bias


def test_log_expected_hvi_of_a_sure_curve_is_its_area_above_the_front():
    front_x, front_y = np.array([0.0, 1.0]), np.array([0.0, 1.0])
    mu = np.array([[0.5, 2.0]])
    sd = np.full((1, 2), 1e-6)
    cost = np.array([[0.5, 1.5]])
    # point 0 holds on [0.5, 1.5) over the front at 0 then 1: 0.5 x 0.5 (it is below 1 after
    # x = 1); point 1 holds on [1.5, 2) over the front at 1: 0.5 x 1
    got = np.exp(log_expected_hvi(mu, sd, cost, front_x, front_y, ref_x=2.0, floor=-1.0))
    np.testing.assert_allclose(got, [0.25 + 0.5], rtol=1e-4)
    # points masked out hold nowhere; points past the reference add nothing
    masked = np.exp(
        log_expected_hvi(mu, sd, cost, front_x, front_y, 2.0, -1.0, expected=[[False, True]])
    )
    np.testing.assert_allclose(masked, [0.5], rtol=1e-4)
    past = log_expected_hvi(mu, sd, cost + 5.0, front_x, front_y, ref_x=2.0, floor=-1.0)
    assert past[0] == -np.inf
    # more score, more improvement; a curve under the front still has a finite log value
    lower = log_expected_hvi(mu - 0.3, sd + 0.1, cost, front_x, front_y, 2.0, -1.0)
    under = log_expected_hvi(mu - 5.0, sd + 0.1, cost, front_x, front_y, 2.0, -1.0)
    assert np.log(got[0]) > lower[0] > under[0] > -np.inf


def test_curve_points_sit_at_fractions_of_the_length_and_none_below_the_shortest_seen():
    space = Space(
        {
            "lr": {"kind": "log", "min": 1e-4, "max": 1e-1},
            "total_steps": {"kind": "log", "min": 1e5, "max": 1e7},
        }
    )
    u = space.to_unit_many([{"lr": 1e-3, "total_steps": 4e6}, {"lr": 1e-2, "total_steps": 2e5}])
    curve, expected = curve_units(
        space, u, 1, (0.25, 0.5, 1.0), shortest=space.to_unit({"lr": 1e-3, "total_steps": 1.5e5})[1]
    )
    assert curve.shape == (2, 3, 2)
    np.testing.assert_array_equal(curve[:, :, 0], np.repeat(u[:, :1], 3, axis=1))
    steps = [[space.from_unit(p)["total_steps"] for p in row] for row in curve]
    np.testing.assert_allclose(steps, [[1e6, 2e6, 4e6], [1e5, 1e5, 2e5]], rtol=1e-6)
    # 2e5 x 0.25 is below the space (clipped to 1e5) and below the shortest run seen
    np.testing.assert_array_equal(expected, [[True, True, True], [False, False, True]])
    # no length parameter: the trial is its only point
    single, everywhere = curve_units(space, u, None, (0.5, 1.0))
    assert single.shape == (2, 1, 2) and everywhere.all()
