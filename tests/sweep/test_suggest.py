"""Candidate generation and the acquisition's pieces: candidates that pass the filter really
satisfy the constraints, the design starts at the center, the cost deck spreads, and log EI is
right and stable."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from tests.sweep.problems import RL_CONSTRAINTS, RL_SPACE
from workbench.sweep.constraints import Constraints
from workbench.sweep.space import Space
from workbench.sweep.suggest import (
    DECK,
    NoFeasiblePoint,
    cost_target,
    design,
    feasible_mask,
    local_candidates,
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


def test_cost_deck_deals_every_band_once_per_round_plus_a_wildcard():
    for rnd in range(5):
        cards = [cost_target(7, rnd * (DECK + 1) + i) for i in range(DECK + 1)]
        assert cards.count(None) == 1
        bands = sorted(math.floor(c * DECK) for c in cards if c is not None)
        assert bands == list(range(DECK))
    assert cost_target(7, 3) == cost_target(7, 3)
    assert [cost_target(7, i) for i in range(12)] != [cost_target(8, i) for i in range(12)]


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
