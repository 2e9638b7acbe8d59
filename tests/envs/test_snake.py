"""Snake: rules by scripted scenarios on a small grid."""

import numpy as np
import pytest

import workbench

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
EMPTY, FOOD, CORPSE, WALL = 0, 1, 2, 3


def make(**kw):
    params = dict(num_envs=1, num_snakes=2, num_food=0, width=30, height=24, seed=0)
    params.update(kw)
    env = workbench.make("snake", **params)
    env.reset()
    return env


def step(env, *actions):
    return env.step(np.array(actions, dtype=np.int32))


def park(env, s, x, y, direction=RIGHT):
    env._core.place_snake(0, s, [(x, y)], direction)


def test_observation_is_the_window_around_the_head():
    env = make(vision=3)
    assert env.observations.shape == (2, 7, 7)
    park(env, 0, 10, 10)
    park(env, 1, 20, 15)
    env._core.set_cell(0, 12, 9, FOOD)
    step(env, UP, UP)  # snake 0 moves to (10, 9)
    obs = env.observations[0]
    assert obs[3, 3] == env._core.snake(0, 0)["color"]  # own head in the centre
    assert obs[3, 5] == FOOD  # two cells right of the head
    park(env, 0, 4, 10)  # near the left border (vision 3): walls at x <= 2
    assert (env.observations[0][:, :2] == WALL).all()


def test_food_grows_gives_reward_and_respawns():
    env = make(num_food=5)
    park(env, 0, 10, 10)
    park(env, 1, 20, 15)
    env._core.set_cell(0, 11, 10, FOOD)
    foods = (env._core.cells(0) == FOOD).sum()
    _, rewards, terminals, _, _ = step(env, RIGHT, UP)
    s = env._core.snake(0, 0)
    assert rewards[0] == pytest.approx(0.1) and not terminals[0]
    assert s["length"] == 2 and s["body"] == [(11, 10), (10, 10)]
    assert (env._core.cells(0) == FOOD).sum() == foods - 1 + 1  # eaten one replaced
    step(env, RIGHT, UP)
    assert env._core.snake(0, 0)["body"] == [(12, 10), (11, 10)]  # moves, keeps length


def test_corpse_grows_and_is_not_replaced():
    env = make()
    park(env, 0, 10, 10)
    park(env, 1, 20, 15)
    env._core.set_cell(0, 11, 10, CORPSE)
    _, rewards, _, _, _ = step(env, RIGHT, UP)
    assert rewards[0] == pytest.approx(0.1) and env._core.snake(0, 0)["length"] == 2
    assert (env._core.cells(0) == CORPSE).sum() == 0


def test_turning_back_into_the_neck_keeps_going_straight():
    env = make()
    env._core.place_snake(0, 0, [(10, 10), (9, 10)], RIGHT)
    park(env, 1, 20, 15)
    terminals = step(env, LEFT, UP)[2]
    assert not terminals[0] and env._core.snake(0, 0)["body"][0] == (11, 10)


def test_hitting_a_wall_kills_respawns_and_is_a_terminal():
    env = make(leave_corpse=True, vision=5)
    env._core.place_snake(0, 0, [(5, 10), (6, 10), (7, 10), (8, 10)], LEFT)
    park(env, 1, 20, 15)
    _, rewards, terminals, truncations, _ = step(env, LEFT, UP)
    assert rewards[0] == -1.0 and terminals[0] and not truncations[0]
    s = env._core.snake(0, 0)
    assert s["length"] == 1 and s["ep_length"] == 0
    cells = env._core.cells(0)
    # Every other body cell (from the head) became a corpse.
    assert [cells[10, x] for x in (5, 6, 7, 8)] == [EMPTY, CORPSE, EMPTY, CORPSE]
    log = env.log()
    assert log["n"] == 1 and log["score"] == 4 and log["perf"] == pytest.approx(4 / 100)
    assert log["episode_return"] == -1.0 and log["episode_length"] == 1


def test_hitting_another_snake_kills_only_the_mover():
    env = make(leave_corpse=False)
    park(env, 0, 10, 10)
    env._core.place_snake(0, 1, [(11, 12), (11, 11), (11, 10), (11, 9)], DOWN)
    _, rewards, terminals, _, _ = step(env, RIGHT, RIGHT)
    assert terminals[0] and rewards[0] == -1.0
    assert not terminals[1] and env._core.snake(0, 1)["length"] == 4
    assert env._core.cells(0)[10, 10] == EMPTY  # no corpse without leave_corpse


def test_perf_is_length_at_death_against_the_target_of_100():
    env = make()
    park(env, 0, 10, 10)
    park(env, 1, 20, 15)
    for x in (11, 12):
        env._core.set_cell(0, x, 10, FOOD)
    for _ in range(4):
        step(env, RIGHT, UP)  # eat, eat, move, move: length 3 after 4 steps
    env._core.set_cell(0, 15, 10, WALL)
    step(env, RIGHT, UP)  # dies on step 5
    log = env.log()
    assert log["score"] == 3 and log["perf"] == pytest.approx(3 / 100)
    # A long snake reaches the cap: perf 1 at length 100 and beyond.
    env = make(width=200, height=40)
    env._core.place_snake(0, 0, [(10 + k, 30) for k in range(120)], LEFT)
    park(env, 1, 20, 15)
    env._core.set_cell(0, 9, 30, WALL)
    step(env, LEFT, UP)
    assert env.log()["perf"] == pytest.approx(1.0)


def test_grids_are_independent_copies():
    env = make(num_envs=3)
    assert env.num_agents == 6 and env.num_copies == 3
    assert env.render(2).shape == (24, 30, 3)


def test_too_many_snakes_for_the_grid():
    with pytest.raises(ValueError, match=r"num_snakes \+ num_food = 200 must fit.*at most 70"):
        workbench.make("snake", width=30, height=24, num_snakes=100, num_food=100)
