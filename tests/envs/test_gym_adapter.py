"""Gymnasium adapter: autoreset semantics, space layouts, logs, errors."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import workbench


class DictEnv(gym.Env):
    """Dict observation {"a": Discrete(3, start=1), "b": Box(2)}; MultiDiscrete actions."""

    observation_space = spaces.Dict(
        {"b": spaces.Box(-1, 1, (2,)), "a": spaces.Discrete(3, start=1)}
    )
    action_space = spaces.MultiDiscrete([2, 3])

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return {"a": 2, "b": np.array([0.5, -0.5], np.float32)}, {}

    def step(self, action):
        self.t += 1
        self.last_action = np.array(action)
        obs = {"a": 1 + self.t % 3, "b": np.array([self.t / 10, 0.0], np.float32)}
        return obs, float(action.sum()), self.t >= 3, False, {"score": 42.0} if self.t >= 3 else {}


class PictureEnv(gym.Env):
    """Renders a frame whose red channel is the step count."""

    observation_space = spaces.Box(0, 1, (1,))
    action_space = spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.t = 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(1, np.float32), 0.0, False, False, {}

    def render(self):
        frame = np.zeros((4, 6, 3), np.uint8)
        frame[..., 0] = self.t
        return frame


class TextEnv(gym.Env):
    observation_space = spaces.Text(5)
    action_space = spaces.Discrete(2)


def test_cartpole_buffers_and_logs():
    env = workbench.make("gym:CartPole-v1", num_envs=8, seed=0, perf=(0, 500), log_interval=10**9)
    obs = env.reset()
    assert obs.shape == (8, 4) and obs.dtype == np.float32
    ended = 0
    for _ in range(300):
        _, rewards, terminals, truncations, _ = env.step(np.ones(8, np.int32))  # always push right
        ended += int(terminals.sum())
        assert not truncations.any()
        assert (rewards == 1).all()
    log = env.log()
    assert ended > 0 and log["n"] == ended
    assert log["episode_return"] == pytest.approx(log["episode_length"])
    assert log["score"] == log["episode_return"]
    assert log["perf"] == pytest.approx(log["score"] / 500)


def test_no_perf_without_a_normalisation():
    env = workbench.make("gym:CartPole-v1", num_envs=4)
    for _ in range(100):
        env.step(np.ones(4, np.int32))
    assert "perf" not in env.log()


def test_truncation_keeps_the_final_observation():
    env = workbench.make("gym:CartPole-v1", num_envs=2, seed=3, env_kwargs={"max_episode_steps": 5})
    env.reset(seed=3)
    twin = gym.make("CartPole-v1", max_episode_steps=5)
    twin_obs, _ = twin.reset(seed=3)  # copy 0 is seeded with seed + 0 by Gymnasium
    assert np.allclose(env.observations[0], twin_obs)
    actions = [0, 1, 0, 1, 0]
    for k, a in enumerate(actions):
        obs, _, terminals, truncations, _ = env.step(np.array([a, a], np.int32))
        twin_obs, _, _, twin_trunc, _ = twin.step(a)
        if k < 4:
            assert not truncations.any()
            assert np.allclose(obs[0], twin_obs)
    assert twin_trunc and truncations.all() and not terminals.any()
    assert np.allclose(env.final_observations[0], twin_obs)  # the last observation
    assert not np.allclose(env.observations[0], twin_obs)  # already the next episode
    assert env.log()["episode_length"] == 5


def test_dict_observations_flatten_in_key_order_and_multidiscrete_actions():
    env = workbench.make(DictEnv, num_envs=2, score_key="score")
    assert env.single_observation_space.shape == (5,)
    # Keys sorted by Gymnasium: "a" (one-hot of 3, start 1), then "b".
    assert env.observations[0].tolist() == [0, 1, 0, 0.5, -0.5]
    actions = np.array([[1, 2], [0, 0]], dtype=np.int32)
    _, rewards, _, _, _ = env.step(actions)
    assert rewards.tolist() == [3.0, 0.0]
    assert env.observations[0].tolist() == pytest.approx([0, 1, 0, 0.1, 0.0])
    env.step(actions)
    _, _, terminals, _, _ = env.step(actions)
    assert terminals.all()
    log = env.log()
    assert log["score"] == 42.0 and log["episode_return"] == pytest.approx(4.5)
    with pytest.raises(ValueError, match=r"out of range: valid are 0..2"):
        env.step(np.array([[1, 3], [0, 0]], dtype=np.int32))


def test_box_actions_are_clipped_to_the_space():
    env = workbench.make("gym:Pendulum-v1", num_envs=2)
    assert env.single_action_space.shape == (1,)
    env.step(np.array([[100.0], [-100.0]], np.float32))  # clipped to [-2, 2], no error
    with pytest.raises(ValueError, match="not finite"):
        env.step(np.array([[np.nan], [0.0]], np.float32))


def test_discrete_observations_become_one_hot():
    env = workbench.make("gym:FrozenLake-v1", num_envs=3)
    assert env.observations.shape == (3, 16)
    assert (env.observations.sum(1) == 1).all() and env.observations[:, 0].all()


def test_unsupported_space_names_it():
    with pytest.raises(TypeError, match=r"unsupported observation space Text"):
        workbench.make(TextEnv, num_envs=1)


def test_unknown_id_suggests_close_ones():
    with pytest.raises(ValueError, match=r"unknown Gymnasium env 'CartPol-v1'.*'CartPole-v1'"):
        workbench.make("gym:CartPol-v1")


def test_bad_adapter_parameters():
    with pytest.raises(ValueError, match=r"perf must be \(\) or \(low, high\)"):
        workbench.make("gym:CartPole-v1", perf=(5, 1))
    with pytest.raises(ValueError, match=r"'vectorization' must be one of 'auto', 'vector'"):
        workbench.make("gym:CartPole-v1", vectorization="threads")


def test_render_through_the_gymnasium_env():
    env = workbench.make(PictureEnv, num_envs=2, env_kwargs={"render_mode": "rgb_array"})
    env.step(np.zeros(2, np.int32))
    frame = env.render(1)
    assert frame.dtype == np.uint8 and frame.shape == (4, 6, 3) and frame[0, 0, 0] == 1
    plain = workbench.make(PictureEnv, num_envs=1)
    with pytest.raises(RuntimeError, match="render_mode"):
        plain.render(0)


def test_cartpole_learns_through_the_adapter(tmp_path):
    run = workbench.train(
        "gym:CartPole-v1", store=tmp_path / "wb.db", total_steps=80_000, eval_episodes=16
    )
    assert run.summary["eval/episode_return"] >= 400


def _trajectory(vectorization, steps=400, **env_kwargs):
    env = workbench.make(
        "gym:CartPole-v1", num_envs=8, seed=3, vectorization=vectorization, env_kwargs=env_kwargs
    )
    rng = np.random.default_rng(0)
    out = [env.observations.copy()]
    for _ in range(steps):
        obs, rewards, terminals, truncations, _ = env.step(rng.integers(0, 2, 8))
        final = np.where(truncations[:, None], env.final_observations, 0)
        out.append([x.copy() for x in (obs, rewards, terminals, truncations, final)])
    return env, out, env.log()


@pytest.mark.parametrize("limit", [500, 20])
def test_vector_entry_point_matches_the_sync_path_under_a_seed(limit):
    vec, a, log_a = _trajectory("auto", max_episode_steps=limit)
    sync, b, log_b = _trajectory("sync", max_episode_steps=limit)
    assert vec.vectorization == "vector" and sync.vectorization == "sync"
    assert np.array_equal(a[0], b[0])
    for x, y in zip(a[1:], b[1:], strict=True):
        assert all(np.array_equal(u, v) for u, v in zip(x, y, strict=True))
    ended = sum(int(s[2].sum() + s[3].sum()) for s in a[1:])
    assert ended > 50 and log_a == log_b
    if limit == 20:  # truncations happened, with final observations kept
        assert sum(int(s[3].sum()) for s in a[1:]) > 0


def test_vector_entry_point_refused_where_there_is_none():
    with pytest.raises(ValueError, match=r"no vector entry point for 'Pendulum-v1'.*'sync'"):
        workbench.make("gym:Pendulum-v1", vectorization="vector")
    assert workbench.make("gym:Pendulum-v1").vectorization == "sync"
