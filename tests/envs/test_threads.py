"""Threaded stepping: every game, stepped by threads over slices of its copies, is identical to
serial stepping (observations, rewards, terminals, truncations, final observations, logs)."""

import threading

import numpy as np
import pytest
from gymnasium import spaces

import workbench
from workbench.bench.env import random_actions
from workbench.envs import names
from workbench.envs.base import VecEnv
from workbench.envs.registry import Param

ENVS = [n for n in names() if not n.startswith("gym")]
# Small copies that end episodes often; Snake's copies are grids of several agents.
PARAMS = {
    "snake": dict(num_snakes=6, num_food=24, width=32, height=32),
    "puzzle": dict(levels=3, difficulty=1),
}


def make(name, slices, num_envs=7, seed=5, **kw):
    params = {**PARAMS.get(name, {}), **kw}
    return workbench.make(name, num_envs=num_envs, seed=seed, slices=slices, **params)


def snapshot(env, info):
    final = env.final_observations
    return (
        env.observations.copy(),
        env.rewards.copy(),
        env.terminals.copy(),
        env.truncations.copy(),
        None if final is None else final[env.truncations].copy(),
        dict(info),
    )


@pytest.mark.parametrize("name", ENVS)
def test_threads_step_exactly_like_one_thread(name):
    serial, threaded = make(name, 1, log_interval=50), make(name, 3, log_interval=50)
    assert threaded.slices == 3 and serial.slices == 1
    for env in (serial, threaded):
        env.reset()
    actions = random_actions(serial, 64, seed=11)
    ended = 0
    for k in range(1500):
        if k == 700:  # re-seeding reaches every slice's copies alike
            serial.reset(seed=9)
            threaded.reset(seed=9)
        a = snapshot(serial, serial.step(actions[k % 64])[4])
        b = snapshot(threaded, threaded.step(actions[k % 64])[4])
        ended += int(a[2].sum() + a[3].sum())
        for x, y in zip(a[:5], b[:5], strict=True):
            assert (x is None and y is None) or np.array_equal(x, y), f"step {k}"
        assert a[5] == b[5], f"info at step {k}"  # episode logs, bit for bit
    assert ended > 0
    assert serial.log() == threaded.log()
    last = serial.num_copies - 1
    assert np.array_equal(serial.render(last), threaded.render(last))
    threaded.close()


def test_slices_hold_whole_snake_grids():
    env = make("snake", 2, num_envs=3)
    per_grid = env.num_agents // env.num_copies
    halves = [env.slice_agents(0, 1), env.slice_agents(1, 2)]
    assert [(s.start, s.stop) for s in halves] == [(0, per_grid), (per_grid, 3 * per_grid)]


@pytest.mark.parametrize("name", ["breakout", "snake", "timelimit"])
def test_stepping_slices_apart_moves_only_their_copies(name):
    # What double-buffered rollouts do: step one half, later the other, same trajectories.
    whole, parts = make(name, 1, log_interval=10**9), make(name, 2, log_interval=10**9)
    for env in (whole, parts):
        env.reset()
    actions = random_actions(whole, 64, seed=2)
    first = parts.slice_agents(0, 1)
    for k in range(300):
        whole.step(actions[k % 64])
        parts.actions[:] = actions[k % 64]
        before = parts.observations[first].copy()
        parts.step_slices(1, 2)
        assert np.array_equal(parts.observations[first], before)  # the other half waits
        parts.step_slices(0, 1)
        for x, y in zip(
            (whole.observations, whole.rewards, whole.terminals, whole.truncations),
            (parts.observations, parts.rewards, parts.terminals, parts.truncations),
            strict=True,
        ):
            assert np.array_equal(x, y), f"step {k}"
    assert whole.log() == parts.log()


def test_step_slices_checks_its_actions_and_range():
    env = make("breakout", 2, num_envs=4)
    env.actions[:] = 0
    env.actions[3] = 7
    env.step_slices(0, 1)  # copies 0-1 are fine
    with pytest.raises(ValueError, match=r"actions\[3\] = 7 is out of range"):
        env.step_slices(1, 2)
    with pytest.raises(ValueError, match=r"0 <= start < stop <= slices=2"):
        env.step_slices(1, 3)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        (dict(slices=0), ValueError, r"parameter 'slices' must be int in \[1, 1024\], got 0"),
        (dict(slices=1.5), TypeError, r"parameter 'slices' must be int"),
        (dict(slices=5), ValueError, r"slices=5 exceeds num_envs=4"),
    ],
)
def test_bad_thread_counts_name_the_fix(kw, error, match):
    with pytest.raises(error, match=match):
        workbench.make("pong", num_envs=4, **kw)


def test_adapters_refuse_threads():
    pytest.importorskip("gymnasium")
    with pytest.raises(ValueError, match=r"not supported by adapters.*use slices=1"):
        workbench.make("gym:CartPole-v1", num_envs=4, slices=2)
    env = workbench.make("gym:CartPole-v1", num_envs=2, slices=1)  # the default passes
    env.close()


class _Core:
    """A core written before threading: no first_index."""

    def __init__(self, obs, final_obs, actions, rewards, terminals, truncations, sums, seed):
        pass


class _Old(VecEnv):
    """A wrapper written before threading: no slices parameter."""

    name = "old"
    PARAMS: dict = {}
    single_observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
    single_action_space = spaces.Discrete(2)

    def __init__(self, num_envs=1, seed=0, log_interval=128):
        super().__init__(num_envs, seed=seed, log_interval=log_interval)
        self._bind(_Core)


class _NoFirstIndex(_Old):
    PARAMS = {"x": Param(0, int, "unused")}

    def __init__(self, num_envs=1, seed=0, log_interval=128, slices=1, x=0):
        VecEnv.__init__(self, num_envs, seed=seed, log_interval=log_interval, slices=slices)
        self._bind(_Core)


def test_envs_written_before_threading_still_work_and_refuse_threads_clearly():
    workbench.envs.register("old_wrapper", _Old)
    workbench.envs.register("old_core", _NoFirstIndex)
    assert workbench.make("old_wrapper", num_envs=2).slices == 1
    with pytest.raises(ValueError, match=r"wrapper whose __init__ takes slices"):
        workbench.make("old_wrapper", num_envs=2, slices=2)
    with pytest.raises(TypeError, match=r"core that takes first_index.*_Core does not"):
        workbench.make("old_core", num_envs=2, slices=2)


def test_close_ends_the_stepping_threads():
    def stepping_threads():
        return {t for t in threading.enumerate() if t.name.startswith("workbench-env")}

    before = stepping_threads()
    env = make("pong", 4, num_envs=8)
    env.step(np.zeros(8, np.int32))
    mine = stepping_threads() - before
    assert mine
    env.close()
    assert not any(t.is_alive() for t in mine)
