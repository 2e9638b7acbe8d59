"""End to end: on a two-objective toy (score grows with training length towards a peak, cost
grows with length), the sweeper's front beats random search's at the same number of runs."""

import numpy as np

from tests.sweep.problems import TOY_SPACE, toy_problem
from workbench.sweep import Space, Sweeper
from workbench.sweep.pareto import hypervolume

BUDGET = 40
REF_COST, REF_SCORE = 201.0, 0.0  # the costliest run costs 200


def sweeper_run(seed):
    sw, rng = Sweeper(TOY_SPACE, seed=seed), np.random.default_rng(seed)
    truth = []
    for _ in range(BUDGET):
        p = sw.suggest()
        score, cost = toy_problem(p)
        sw.observe(p, score + 0.01 * rng.standard_normal(), cost)
        truth.append((cost, score))
    return truth


def random_run(seed):
    params = Space(TOY_SPACE).sample(np.random.default_rng(1000 + seed), BUDGET)
    return [toy_problem(p)[::-1] for p in params]


def hv(points):
    cost, score = zip(*points, strict=True)
    return hypervolume(cost, score, REF_COST, REF_SCORE)


def test_sweeper_beats_random_search_on_hypervolume():
    ours = [hv(sweeper_run(seed)) for seed in range(3)]
    random = [hv(random_run(seed)) for seed in range(3)]
    assert np.median(ours) > 1.2 * np.median(random), (ours, random)
    assert min(ours) > np.median(random)
