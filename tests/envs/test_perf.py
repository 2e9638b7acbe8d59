"""``perf`` means skill in every env: 0..1, and a skilled scripted player beats a poor one.

A sweep that optimises ``perf`` must breed better players, never degenerate ones (Snake's
old length / steps lived was highest for a snake that died at once).
"""

import numpy as np
import pytest

import workbench
from workbench.envs.facts import facts

# Snake tiles in the observation window: below WALL is free to enter.
SNAKE_FOOD, SNAKE_WALL = 1, 3


def breakout_tracker(obs, _):
    paddle = obs[:, 0] + obs[:, 9] * 62 / 2 / 576
    ball = obs[:, 2] + 16 / 576
    return np.where(ball > paddle, 2, 1)


def pong_spinner(obs, _):
    # Track the ball; as it arrives, move along its vertical speed to add spin, which
    # the tracking opponent cannot follow.
    gap = obs[:, 3] + 16 / 640 - obs[:, 0]
    track = np.where(np.abs(gap) < 0.03, 0, np.where(gap < 0, 1, 2))
    spin = np.where(obs[:, 5] > 0.5, 2, 1)
    return np.where(obs[:, 2] > 0.9, spin, track)


def snake_survivor(obs, rng):
    # Step onto food when a neighbour has some, else onto any free neighbour.
    c = obs.shape[1] // 2
    neighbours = np.stack(
        [obs[:, c - 1, c], obs[:, c + 1, c], obs[:, c, c - 1], obs[:, c, c + 1]], 1
    )  # up, down, left, right
    score = (
        (neighbours < SNAKE_WALL) * 1.0
        + (neighbours == SNAKE_FOOD)
        + rng.random((len(obs), 4)) * 0.5
    )
    return score.argmax(1)


def memory_recall(obs, state):
    cue = state.setdefault("cue", np.zeros(len(obs), dtype=np.int64))
    shown = obs[:, 0] + obs[:, 1] > 0
    cue[shown] = obs[shown, 1].astype(np.int64)
    return cue.copy()


PLAYERS = {
    # env: (params, skilled player, poor player, steps)
    "breakout": ({}, breakout_tracker, lambda obs, _: np.zeros(len(obs), int), 3000),
    "pong": ({}, pong_spinner, lambda obs, _: np.zeros(len(obs), int), 4000),
    "snake": (
        dict(num_snakes=64, num_food=400, width=80, height=80),
        snake_survivor,
        lambda obs, _: np.zeros(len(obs), int),
        600,
    ),
    "puzzle": (
        dict(difficulty=1),
        lambda obs, rng: rng.integers(0, 4, len(obs)),
        lambda obs, _: np.zeros(len(obs), int),
        1500,
    ),
    "bandit": (
        {},
        lambda obs, _: np.full(len(obs), 3),
        lambda obs, _: np.zeros(len(obs), int),
        200,
    ),
    "memory": ({}, memory_recall, lambda obs, _: np.zeros(len(obs), int), 200),
    "multiagent": (
        {},
        lambda obs, _: obs.argmax(1),
        lambda obs, _: (obs.argmax(1) + 1) % obs.shape[1],
        50,
    ),
    "continuous": ({}, lambda obs, _: obs.copy(), lambda obs, _: -obs, 50),
}


def mean_perf(name, params, player, steps):
    env = workbench.make(name, num_envs=16, seed=1, **params)
    obs = env.reset()
    rng = np.random.default_rng(0)
    state = {} if name == "memory" else rng
    total = count = 0.0
    for _ in range(steps):
        obs, *_ = env.step(np.asarray(player(obs, state)).astype(env.actions.dtype))
        log = env.log()
        if log:
            total += log["perf"] * log["n"]
            count += log["n"]
    env.close()
    assert count > 0, f"{name}: no episode ended in {steps} steps"
    return total / count


@pytest.mark.parametrize("name", sorted(PLAYERS))
def test_perf_rises_with_skill(name):
    params, skilled, poor, steps = PLAYERS[name]
    good = mean_perf(name, params, skilled, steps)
    bad = mean_perf(name, params, poor, steps)
    assert 0.0 <= bad < good <= 1.0
    assert good - bad >= 0.1, f"{name}: skilled perf {good:.3f} vs poor {bad:.3f}"


def test_timelimit_has_no_skill_and_says_so():
    # Nothing to learn: every episode lasts the limit, perf is 1 (stated in its README).
    assert mean_perf("timelimit", {}, lambda obs, _: np.zeros(len(obs), int), 20) == 1.0
    rules = facts("timelimit").rules.read_text().lower()
    assert "perf` = 1" in rules
