"""Early stopping: a clearly bad curve is pruned with its numbers, a good one is not, and nothing
is pruned before the minimums."""

import numpy as np
import pytest

from workbench.sweep.stopping import quantile_line, should_prune

COSTS = np.geomspace(10, 1000, 8)


def curve(top, costs=COSTS):
    return top * (1 - np.exp(-costs / 200))


def finished(n_trials=12, seed=0):
    rng = np.random.default_rng(seed)
    scores, costs = [], []
    for _ in range(n_trials):
        top = rng.uniform(0.5, 1.0)
        scores += list(curve(top) + 0.02 * rng.standard_normal(len(COSTS)))
        costs += list(COSTS)
    return np.array(scores), np.array(costs)


def test_quantile_line_recovers_a_known_line():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 400)
    y = 2 + 0.5 * x + rng.standard_normal(400)
    a, b = quantile_line(x, y, 0.5)
    assert abs(a - 2) < 0.3 and abs(b - 0.5) < 0.05
    a25, _ = quantile_line(x, y, 0.25)
    assert abs(a25 - (a - 0.674)) < 0.3  # the normal's 25% quantile is 0.674 sd below


def test_a_clearly_bad_curve_is_pruned_with_the_numbers():
    s, c = finished()
    bad = curve(0.1)
    prune, reason = should_prune(s, c, bad[5], COSTS[5], target_cost=1000)
    assert prune
    assert "below the quantile line" in reason and f"{bad[5]:.4g}" in reason
    assert "96 finished points" in reason and "25% quantile line" in reason


@pytest.mark.parametrize("i", range(8))
def test_a_good_curve_is_never_pruned(i):
    s, c = finished()
    good = curve(0.95)
    prune, reason = should_prune(s, c, good[i], COSTS[i], target_cost=1000)
    assert not prune and (reason.startswith("keep") or i < 5)


def test_an_average_curve_survives_too():
    s, c = finished()
    for i in range(3, 8):
        assert not should_prune(s, c, curve(0.72)[i], COSTS[i], target_cost=1000)[0]


def test_nothing_is_pruned_before_the_minimums():
    s, c = finished()
    # too few finished points
    prune, reason = should_prune(s[:10], c[:10], 0.0, 500, target_cost=1000)
    assert not prune and "only 10 finished points, need 20" in reason
    # too early in the trial's own budget
    prune, reason = should_prune(s, c, 0.0, 200, target_cost=1000)
    assert not prune and "20% of the intended 1000" in reason
    # without a target, the largest finished cost stands in
    assert not should_prune(s, c, 0.0, 200)[0]
    # cheaper than anything finished: no extrapolation
    prune, reason = should_prune(s, c, 0.0, 5, target_cost=10)
    assert not prune and "below every finished cost" in reason
    # once past the minimums the same bad score is pruned
    assert should_prune(s, c, 0.0, 300, target_cost=1000)[0]


def test_a_nan_score_past_the_minimums_is_pruned():
    s, c = finished()
    prune, reason = should_prune(s, c, float("nan"), 500, target_cost=1000)
    assert prune and "nan" in reason
