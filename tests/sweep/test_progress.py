"""Sweeps compared: the hypervolume-over-time series, the shared reference point and the
check that two sweeps can be compared, on hand-made numbers."""

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest

from workbench.sweep.pareto import hypervolume
from workbench.sweep.progress import (
    check_comparable,
    front_hypervolume,
    hypervolume_over_time,
    reference_point,
)

LN = math.log


def test_hypervolume_grows_step_by_step_and_ends_at_the_fronts():
    ref = (100.0, 0.0)
    times = [3.0, 1.0, 2.0, 4.0]  # out of order: sorted by time
    cost = [20.0, 10.0, 50.0, 60.0]
    score = [0.5, 1.0, 2.0, 1.5]  # the 3rd and 4th observed are dominated
    t, hv = hypervolume_over_time(times, ["a", "b", "c", "d"], cost, score, ref)
    assert t == [1.0, 2.0, 3.0, 4.0]
    first = (LN(100) - LN(10)) * 1.0
    both = (LN(50) - LN(10)) * 1.0 + (LN(100) - LN(50)) * 2.0
    assert hv == pytest.approx([first, both, both, both])
    assert all(b >= a for a, b in itertools.pairwise(hv))
    assert hv[-1] == pytest.approx(hypervolume(cost, score, *ref))
    assert hv[-1] == pytest.approx(front_hypervolume(["a", "b", "c", "d"], cost, score, ref))
    assert all(type(v) is float for v in t + hv)  # plain floats: they go to plotly as is


def test_points_outside_the_reference_add_nothing():
    ref = (100.0, 0.5)
    # at or past the reference cost, at or under the reference score: no area
    _t, hv = hypervolume_over_time(
        [1, 2, 3], ["a", "b", "c"], [100.0, 10.0, 10.0], [9.0, 0.5, 0.6], ref
    )
    assert hv == pytest.approx([0.0, 0.0, (LN(100) - LN(10)) * 0.1])
    # a higher reference score shrinks every step by its width times the difference
    _, low = hypervolume_over_time([1, 2], ["a", "b"], [10.0, 50.0], [1.0, 2.0], (100.0, 0.0))
    _, high = hypervolume_over_time([1, 2], ["a", "b"], [10.0, 50.0], [1.0, 2.0], (100.0, 0.5))
    assert np.subtract(low, high) == pytest.approx([0.5 * LN(10), 0.5 * LN(10)])


def test_results_at_one_instant_make_one_step_and_seeds_are_averaged():
    ref = (100.0, 0.0)
    t, hv = hypervolume_over_time([5, 5, 7], ["a", "b", "c"], [10, 20, 40], [1, 2, 3], ref)
    assert t == [5.0, 7.0] and len(hv) == 2
    # a second seed of config "a" scoring lower lowers its mean: the hypervolume falls
    t, hv = hypervolume_over_time([1, 2], ["a", "a"], [10.0, 10.0], [2.0, 1.0], ref)
    assert hv == pytest.approx([2 * LN(10), 1.5 * LN(10)])
    assert front_hypervolume([], [], [], ref) == 0.0
    with pytest.raises(ValueError, match="one entry per trial, got lengths 2, 1, 2, 2"):
        hypervolume_over_time([1, 2], ["a"], [1, 2], [1, 2], ref)


def test_the_reference_point_is_past_every_trial_and_on_the_metrics_floor():
    cost, score = [10.0, 1000.0, math.nan], [0.2, 0.9, 5.0]
    ref_cost, ref_score = reference_point(cost, score, "perf")
    assert ref_cost == pytest.approx(1000.0 * math.exp(0.1)) and ref_score == 0.0
    assert reference_point(cost, score, "eval/perf")[1] == 0.0
    # no floor: 5% of the spread under the worst score
    assert reference_point(cost, [-3.0, 7.0, 1.0], "episode_return")[1] == pytest.approx(-3.5)
    assert reference_point([5.0], [2.0], "score")[1] == pytest.approx(1.9)
    with pytest.raises(ValueError, match="no finished trial"):
        reference_point([math.nan], [1.0], "score")


def test_sweeps_on_other_axes_cannot_be_compared():
    a = SimpleNamespace(metric="perf", cost="agent_steps")
    check_comparable({"sweep-a": a, "sweep-b": SimpleNamespace(metric="perf", cost="agent_steps")})
    b = SimpleNamespace(metric="perf", cost="wall_time")
    with pytest.raises(ValueError) as e:
        check_comparable({"sweep-a": a, "sweep-b": b})
    assert str(e.value).startswith(
        "sweep-a optimises perf against agent_steps, sweep-b perf against wall_time"
    )
