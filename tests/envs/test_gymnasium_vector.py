"""make_gymnasium: every registered env as a gymnasium.vector.VectorEnv."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import RecordEpisodeStatistics

import workbench
from workbench.envs import names

ENVS = [*names(), "gym:CartPole-v1", "pettingzoo:tests.envs.pz_tag:parallel_env"]


def roll(venv, steps, seed=0):
    venv.action_space.seed(seed)
    for _ in range(steps):
        yield venv.step(venv.action_space.sample())


@pytest.mark.parametrize("name", ENVS)
def test_vector_contract(name):
    venv = workbench.make_gymnasium(name, 3, seed=1)
    env = venv.env
    assert isinstance(venv, gym.vector.VectorEnv)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    n = venv.num_envs
    assert n == env.num_agents  # one sub-env per agent slot
    assert venv.observation_space == gym.vector.utils.batch_space(venv.single_observation_space, n)
    assert venv.action_space == gym.vector.utils.batch_space(venv.single_action_space, n)
    obs, info = venv.reset(seed=5)
    assert info == {} and obs is env.observations  # zero copy
    assert venv.observation_space.contains(obs)
    for obs, rewards, terms, truncs, info in roll(venv, 60):
        assert venv.observation_space.contains(obs)
        assert rewards.shape == (n,) and rewards.dtype == np.float32
        assert terms.dtype == truncs.dtype == np.bool_ and terms.shape == truncs.shape == (n,)
        if "final_obs" in info:  # exactly the truncated copies, with the env's final rows
            assert np.array_equal(info["_final_obs"], truncs)
            for i in np.flatnonzero(truncs):
                assert np.array_equal(info["final_obs"][i], env.final_observations[i])
        else:
            assert not (truncs.any() and env.final_observations is not None)
    if not name.startswith(("gym", "pettingzoo")):  # adapters need a render_mode
        frames = venv.render()
        assert len(frames) == env.num_copies and frames[0].dtype == np.uint8
    venv.close()
    assert venv.closed


@pytest.mark.parametrize("name", ["breakout", "snake", "continuous"])
def test_seeded_runs_reproduce(name):
    def run(seed):
        venv = workbench.make_gymnasium(name, 2, copy=True)
        venv.reset(seed=seed)
        return [step[:4] for step in roll(venv, 200)]

    a, b, c = run(7), run(7), run(8)
    for x, y in zip(a, b, strict=True):
        assert all(np.array_equal(u, v) for u, v in zip(x, y, strict=True))
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a, c, strict=True))


def test_same_step_matches_gymnasiums_own_sync_vector_env():
    ours = workbench.make_gymnasium(
        "gym:CartPole-v1", 2, env_kwargs={"max_episode_steps": 5}, vectorization="sync"
    )
    theirs = gym.make_vec(
        "CartPole-v1",
        num_envs=2,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        max_episode_steps=5,
    )
    a, _ = ours.reset(seed=3)
    b, _ = theirs.reset(seed=3)
    assert np.array_equal(a, b)
    truncated = 0
    for k in range(12):
        actions = np.array([k % 2, 1 - k % 2])
        x, y = ours.step(actions), theirs.step(actions)
        for u, v in zip(x[:4], y[:4], strict=True):
            assert np.array_equal(u, v)
        if x[3].any():
            truncated += 1
            for i in np.flatnonzero(x[3]):
                assert np.array_equal(x[4]["final_obs"][i], y[4]["final_obs"][i])
    assert truncated == 2  # steps 5 and 10


def test_episode_statistics_reach_gymnasiums_wrapper():
    venv = RecordEpisodeStatistics(
        workbench.make_gymnasium("gym:CartPole-v1", 4, seed=0, log_interval=10**9)
    )
    venv.reset(seed=0)
    returns = []
    for _, _, _, _, info in roll(venv, 300):
        if "episode" in info:
            returns += list(info["episode"]["r"][info["_episode"]])
    log = venv.unwrapped.env.log()
    assert len(returns) == log["n"] > 10
    assert np.mean(returns) == pytest.approx(log["episode_return"])


def test_truncation_through_the_wrapper():
    venv = workbench.make_gymnasium("timelimit", 2, limit=3)
    venv.reset(seed=0)
    for k in range(1, 7):
        _, rewards, terms, truncs, info = venv.step(np.zeros(2, np.int64))
        assert truncs.all() == (k % 3 == 0) and not terms.any() and (rewards == 1).all()
        assert ("final_obs" in info) == (k % 3 == 0)


def test_copy_gives_fresh_arrays():
    venv = workbench.make_gymnasium("breakout", 2, copy=True)
    obs, _ = venv.reset(seed=0)
    step = venv.step(np.zeros(2, np.int64))
    assert obs is not venv.env.observations and step[0] is not venv.env.observations


def test_bad_input_gets_the_envs_errors():
    venv = workbench.make_gymnasium("breakout", 2)
    venv.reset()
    with pytest.raises(ValueError, match=r"must be int32 of shape \(2,\), got int64 \(3,\)"):
        venv.step(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match=r"any integer dtype is accepted"):
        venv.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"out of range: valid actions are 0 \(.*"):
        venv.step(np.array([0, 7]))
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        venv.reset(seed=-1)
    with pytest.raises(ValueError, match=r"reset options \['reset_mask'\] are not supported"):
        venv.reset(options={"reset_mask": np.ones(2, bool)})
    with pytest.raises(ValueError, match="unknown env 'breakot'"):
        workbench.make_gymnasium("breakot", 2)
    assert isinstance(venv.single_action_space, spaces.Discrete)
