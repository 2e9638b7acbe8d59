"""Crates puzzle: push rules, solving and timeouts, solvable generation, level sets."""

from collections import deque

import numpy as np
import pytest

import workbench

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
WALL, TARGET, BOX = 1, 2, 4
SIZE = 16
MOVES = (-SIZE, SIZE, -1, 1)


def make(**kw):
    env = workbench.make("puzzle", **{"num_envs": 1, "difficulty": 1, **kw})
    env.reset()
    return env


def room(boxes=(), targets=(), walls=()):
    """A 5x5 room (cells (1..5, 1..5)) with the given extras, as (x, y) pairs."""
    cells = [WALL] * (SIZE * SIZE)
    for y in range(1, 6):
        for x in range(1, 6):
            cells[y * SIZE + x] = 0
    for x, y in walls:
        cells[y * SIZE + x] = WALL
    for x, y in targets:
        cells[y * SIZE + x] |= TARGET
    for x, y in boxes:
        cells[y * SIZE + x] |= BOX
    return cells


def at(x, y):
    return y * SIZE + x


def step(env, a):
    return env.step(np.array([a], dtype=np.int32))


def test_push_moves_box_and_solving_ends_the_episode():
    env = make()
    env._core.set_level(0, room(boxes=[(2, 3)], targets=[(4, 3)]), at(1, 3))
    _, rewards, terminals, _, _ = step(env, RIGHT)  # box to (3, 3)
    assert rewards[0] == 0 and not terminals[0]
    assert env.observations.shape == (1, 7, 7)
    assert env.observations[0][3, 3] == 2 and env.observations[0][3, 2] == 5
    _, rewards, terminals, truncations, _ = step(env, RIGHT)  # box onto the target
    assert rewards[0] == pytest.approx(1.1) and terminals[0] and not truncations[0]
    log = env.log()
    assert log["perf"] == 1.0 and log["score"] == 1.0 and log["episode_length"] == 2


def test_blocked_pushes_do_nothing():
    env = make()
    cells = room(boxes=[(2, 3), (3, 3), (2, 2)], targets=[(5, 5), (5, 4), (5, 1)], walls=[(2, 1)])
    env._core.set_level(0, cells, at(1, 3))
    step(env, RIGHT)  # box behind a box: blocked
    assert env._core.level(0)["player"] == at(1, 3)
    env._core.set_level(0, cells, at(2, 4))
    step(env, UP)  # pushes (2,3) into (2,2) which holds a box: blocked
    assert env._core.level(0)["player"] == at(2, 4)
    env._core.set_level(0, cells, at(2, 3))
    step(env, UP)  # (2,2) box against the wall at (2,1): blocked
    assert env._core.level(0)["player"] == at(2, 3)
    step(env, LEFT)  # plain move
    assert env._core.level(0)["player"] == at(1, 3)


def test_pushing_off_a_target_costs():
    env = make()
    env._core.set_level(0, room(boxes=[(3, 3), (1, 1)], targets=[(3, 3), (5, 5)]), at(2, 3))
    _, rewards, _, _, _ = step(env, RIGHT)
    assert rewards[0] == pytest.approx(-0.1)


def test_timeout_is_a_truncation_with_the_final_observation():
    env = make(max_steps=3)
    env._core.set_level(0, room(boxes=[(3, 3)], targets=[(5, 5)]), at(1, 1))
    for _ in range(2):
        step(env, LEFT)  # bump the wall
    before = env.observations[0].copy()
    _, _, terminals, truncations, _ = step(env, LEFT)
    assert truncations[0] and not terminals[0]
    assert np.array_equal(env.final_observations[0], before)
    log = env.log()
    assert log["perf"] == 0.0 and log["score"] == 0.0 and log["episode_length"] == 3


def solve(level) -> int | None:
    """Breadth-first search over (player, boxes); the shortest solution length."""
    cells = level["cells"]
    walls = {c for c, v in enumerate(cells) if v & WALL}
    targets = frozenset(c for c, v in enumerate(cells) if v & TARGET)
    start = (level["player"], frozenset(c for c, v in enumerate(cells) if v & BOX))
    seen, queue = {start}, deque([(start, 0)])
    while queue:
        (player, boxes), depth = queue.popleft()
        if boxes == targets:
            return depth
        for m in MOVES:
            nxt = player + m
            if nxt in walls:
                continue
            new_boxes = boxes
            if nxt in boxes:
                beyond = nxt + m
                if beyond in walls or beyond in boxes:
                    continue
                new_boxes = (boxes - {nxt}) | {beyond}
            state = (nxt, new_boxes)
            if state not in seen:
                seen.add(state)
                queue.append((state, depth + 1))
    return None


@pytest.mark.parametrize("difficulty", [1, 2, 4])
def test_generated_levels_are_solvable_within_the_reverse_walk(difficulty):
    env = make(num_envs=12, difficulty=difficulty, seed=5)
    for i in range(12):
        level = env._core.level(i)
        assert level["boxes_off"] >= 1
        length = solve(level)
        assert length is not None and 1 <= length <= level["reverse_steps"]


def test_difficulty_scales_room_boxes_and_time_limit():
    small, large = make(difficulty=1), make(difficulty=10)
    a, b = small._core.level(0), large._core.level(0)
    assert (a["room"], a["boxes"], a["max_steps"]) == (5, 1, 50)
    assert (b["room"], b["boxes"], b["max_steps"]) == (14, 4, 320)


def test_fixed_level_set_ignores_the_seed_and_cycles():
    a = make(num_envs=3, levels=3, seed=1, difficulty=2)
    b = make(num_envs=3, levels=3, seed=99, difficulty=2)
    assert np.array_equal(a.observations, b.observations)
    assert not np.array_equal(a.observations[0], a.observations[1])
    c = make(num_envs=4, levels=3, seed=1, difficulty=2)
    assert np.array_equal(c.observations[3], a.observations[0])  # copy 3 starts at level 0
