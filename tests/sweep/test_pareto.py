"""Fronts on hand-made data: repeats averaged, dominated points out, single noisy samples
handled conservatively; hypervolume against a hand computation."""

import math

import numpy as np
import pytest

from workbench.sweep.pareto import (
    group_repeats,
    hypervolume,
    observed_front,
    pareto_mask,
    pooled_noise,
    predicted_front,
    step_best,
)

# key, cost, score
OBS = [
    ("A", 1.0, 1.0),
    ("B", 2.0, 3.2),
    ("B", 2.0, 2.8),
    ("B", 2.0, 3.0),  # B: three repeats, mean 3.0, per-run std 0.2
    ("C", 3.0, 2.0),  # dominated by B
    ("D", 4.0, 3.1),  # one sample, a hair (less than the noise) above B
    ("E", 8.0, 5.0),  # one sample, clearly better
    ("F", 8.0, 4.0),  # same cost as E, worse
]
KEYS, COST, SCORE = (list(x) for x in zip(*OBS, strict=True))


def test_repeats_are_grouped_and_averaged():
    first, cost, score, n, members = group_repeats(KEYS, COST, SCORE)
    assert first.tolist() == [0, 1, 4, 5, 6, 7]
    assert n.tolist() == [1, 3, 1, 1, 1, 1]
    assert math.isclose(score[1], 3.0) and cost[1] == 2.0
    assert math.isclose(pooled_noise(SCORE, members), 0.2)
    assert pooled_noise([1.0, 2.0], [[0], [1]]) is None


def test_raw_front_keeps_every_non_dominated_group():
    first, cost, score, n = observed_front(KEYS, COST, SCORE, conservative=False)
    assert [KEYS[i] for i in first] == ["A", "B", "D", "E"]
    assert cost.tolist() == [1.0, 2.0, 4.0, 8.0]
    np.testing.assert_allclose(score, [1.0, 3.0, 3.1, 5.0])
    assert n.tolist() == [1, 3, 1, 1]


def test_conservative_front_drops_a_single_sample_within_the_noise():
    first, _, _, _ = observed_front(KEYS, COST, SCORE)  # sigma pooled from B's repeats
    assert [KEYS[i] for i in first] == ["A", "B", "E"]
    # without repeats the caller's noise is used; zero noise gives back the raw front
    keys = ["A", "B", "D", "E"]
    cost, score = [1.0, 2.0, 4.0, 8.0], [1.0, 3.0, 3.1, 5.0]
    assert [keys[i] for i in observed_front(keys, cost, score, noise=0.2)[0]] == ["A", "B", "E"]
    assert [keys[i] for i in observed_front(keys, cost, score, noise=0.0)[0]] == keys
    assert [keys[i] for i in observed_front(keys, cost, score, noise=None)[0]] == keys


def test_pareto_mask_ties():
    mask = pareto_mask([1, 1, 2, 2], [5, 5, 6, 4])
    assert mask.tolist() == [True, False, True, False]


def test_hypervolume_matches_a_hand_computation():
    e = math.e
    # in (log cost, score): (0, 1), (1, 3); (2, 2) is dominated; reference (3, 0)
    # area = 1 * (1 - 0) + 2 * (3 - 0) = 7
    cost, score = [1.0, e, e**2], [1.0, 3.0, 2.0]
    assert hypervolume(cost, score, e**3, 0.0) == pytest.approx(7.0)
    # points beyond the reference add nothing
    assert hypervolume([*cost, e**4, 1.0], [*score, 10.0, -1.0], e**3, 0.0) == pytest.approx(7.0)
    # linear cost: (1, 1), (2, 3), reference (4, 0): 1 * 1 + 2 * 3
    assert hypervolume([1.0, 2.0], [1.0, 3.0], 4.0, 0.0, log_cost=False) == pytest.approx(7.0)
    assert hypervolume([], [], 4.0, 0.0) == 0.0


def test_step_function_of_the_front():
    out = step_best([1.0, 2.0, 4.0], [1.0, 3.0, 2.0], [0.5, 1.0, 3.0, 5.0], floor=-1.0)
    assert out.tolist() == [-1.0, 1.0, 3.0, 3.0]


def test_predicted_front_takes_the_best_mean_no_costlier_than_each_grid_cost():
    cand_cost = np.array([1.0, 2.0, 3.0, 4.0])
    mean = np.array([0.5, 2.0, 1.0, 3.0])
    m, lo, hi = predicted_front([0.5, 1.5, 3.5, 10.0], cand_cost, mean, mean - 1, mean + 1)
    assert np.isnan(m[0]) and m[1:].tolist() == [0.5, 2.0, 3.0]
    assert lo[1:].tolist() == [-0.5, 1.0, 2.0] and hi[2] == 3.0
