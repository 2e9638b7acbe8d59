"""The env contract, checked for every registered env: one family of tests for all."""

import numpy as np
import pytest
from gymnasium import spaces

import workbench
from workbench.bench.env import random_actions
from workbench.envs import names

ENVS = [n for n in names() if not n.startswith("gym")]


def make(name, **kw):
    env = workbench.make(name, **kw)
    env.reset()
    return env


def roll(env, steps, seed=0):
    actions = random_actions(env, 64, seed)
    for k in range(steps):
        yield env.step(actions[k % 64])


@pytest.mark.parametrize("name", ENVS)
def test_same_seed_same_trajectory_different_seed_differs(name):
    def run(seed):
        env = make(name, num_envs=4, seed=seed)
        return [
            (o.copy(), r.copy(), t.copy(), tr.copy()) for o, r, t, tr, _ in roll(env, 2000, seed=7)
        ]

    a, b = run(1), run(1)
    for x, y in zip(a, b, strict=True):
        assert all(np.array_equal(u, v) for u, v in zip(x, y, strict=True))
    if name not in ("timelimit", "multiagent"):  # no randomness at all
        c = run(2)
        assert any(
            not np.array_equal(x[0], y[0]) or not np.array_equal(x[1], y[1])
            for x, y in zip(a, c, strict=True)
        )


@pytest.mark.parametrize("name", ENVS)
def test_observations_in_bounds_and_logs_consistent(name):
    env = make(name, num_envs=50 if name != "snake" else 2, seed=0, log_interval=10**9)
    space = env.single_observation_space
    lo = np.broadcast_to(space.low, space.shape)
    hi = np.broadcast_to(space.high, space.shape)
    ended = 0
    steps = max(2, 100_000 // env.num_agents)
    for obs, rewards, terminals, truncations, _ in roll(env, steps):
        assert obs.dtype == space.dtype
        assert np.all(obs >= lo) and np.all(obs <= hi), name
        assert np.all(np.isfinite(rewards))
        ended += int(terminals.sum() + truncations.sum())
    log = env.log()
    if ended:
        assert log["n"] == ended
        assert 0.0 <= log["perf"] <= 1.0
        assert log["episode_length"] >= 1
    else:
        assert log == {}


@pytest.mark.parametrize("name", ENVS)
def test_buffers_are_reused_and_render_is_rgb(name):
    env = make(name, num_envs=3)
    a = next(roll(env, 1))
    b = next(roll(env, 1))
    assert all(x is y for x, y in zip(a[:4], b[:4], strict=True))
    frame = env.render(env.num_copies - 1)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.any()


@pytest.mark.parametrize("name", ENVS)
def test_bad_actions_are_clear_errors(name):
    env = make(name, num_envs=2)
    space = env.single_action_space
    good = random_actions(env, 1)[0]
    with pytest.raises(ValueError, match=r"shape"):
        env.step(np.concatenate([good, good]))
    if isinstance(space, spaces.Box):
        bad = good.copy()
        bad.flat[-1] = np.nan
        with pytest.raises(ValueError, match="not finite"):
            env.step(bad)
        with pytest.raises(TypeError, match="float"):
            env.step(good.astype(np.int32))
    else:
        bad = good.copy()
        bad.flat[-1] = 10**6
        with pytest.raises(ValueError, match="out of range"):
            env.step(bad)
        with pytest.raises(TypeError, match="integer"):
            env.step(good.astype(np.float64))


@pytest.mark.parametrize("name", ENVS)
def test_bad_parameters_are_clear_errors(name):
    with pytest.raises(ValueError, match=r"'num_envs' must be int in \[1"):
        workbench.make(name, num_envs=0)
    with pytest.raises(ValueError, match="unknown parameter 'bogus'"):
        workbench.make(name, bogus=1)
