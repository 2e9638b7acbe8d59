"""make_sb3: workbench envs as Stable-Baselines3 VecEnvs (skipped without SB3)."""

import sys
import warnings

import numpy as np
import pytest

import workbench
from workbench.envs import sb3 as wb_sb3

sb3 = pytest.importorskip("stable_baselines3")
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack, VecNormalize  # noqa: E402


@pytest.mark.parametrize(("name", "algo"), [("breakout", "PPO"), ("multiagent", "A2C")])
def test_sb3_trains_on_a_game_and_a_multi_agent_env(name, algo):
    venv = workbench.make_sb3(name, 8, seed=0)
    assert isinstance(venv, VecEnv) and venv.num_envs == venv.env.num_agents
    kwargs = {"n_steps": 128, "batch_size": 256, "n_epochs": 1} if algo == "PPO" else {"n_steps": 8}
    model = getattr(sb3, algo)("MlpPolicy", venv, seed=0, device="cpu", **kwargs)
    model.learn(1024)
    # Monitor-style episode infos reached SB3's logging buffer
    assert len(model.ep_info_buffer) > 0
    assert all({"r", "l", "t"} <= set(ep) for ep in model.ep_info_buffer)


def test_episode_infos_match_the_envs_log_and_observations_are_fresh():
    venv = workbench.make_sb3("timelimit", 3, limit=4, log_interval=10**9)
    venv.seed(5)
    first = venv.reset()
    returns = []
    for k in range(1, 9):
        obs, _, dones, infos = venv.step(np.ones(3, np.int64))
        assert obs is not venv.env.observations and obs.dtype == np.float32
        assert dones.all() == (k % 4 == 0)
        for info in infos:
            if "episode" in info:
                assert info["TimeLimit.truncated"] and info["episode"]["l"] == 4
                assert np.array_equal(info["terminal_observation"], [1.0])
                returns.append(info["episode"]["r"])
    log = venv.env.log()
    assert len(returns) == log["n"] == 6 and np.mean(returns) == log["episode_return"]
    assert first is not venv.env.observations


def test_seed_reproduces_the_reset():
    def first(seed):
        venv = workbench.make_sb3("breakout", 2)
        venv.seed(seed)
        return venv.reset()

    assert np.array_equal(first(3), first(3)) and not np.array_equal(first(3), first(4))


def test_vec_normalize_and_vec_frame_stack_wrap_it():
    norm = VecNormalize(workbench.make_sb3("breakout", 4))
    norm.reset()
    for _ in range(20):
        obs, _, _, _ = norm.step(np.zeros(4, np.int64))
    assert obs.shape == (4, 118) and np.abs(obs).max() <= norm.clip_obs
    stack = VecFrameStack(workbench.make_sb3("timelimit", 2, limit=3), n_stack=2)
    assert stack.reset().shape == (2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # truncations carry terminal observations: no warning
        for _ in range(3):
            _, _, dones, infos = stack.step(np.zeros(2, np.int64))
    assert dones.all() and infos[0]["terminal_observation"].shape == (2,)


def test_bad_actions_get_the_envs_errors():
    venv = workbench.make_sb3("pong", 2)
    venv.reset()
    with pytest.raises(ValueError, match=r"actions must be int32 of shape \(2,\)"):
        venv.step(np.zeros((2, 1), np.int64))
    with pytest.raises(ValueError, match="out of range"):
        venv.step(np.array([0, 5]))


def test_missing_sb3_is_a_clear_error(monkeypatch):
    wb_sb3._sb3_vec_env_class.cache_clear()
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)
    monkeypatch.setitem(sys.modules, "stable_baselines3.common.vec_env", None)
    try:
        with pytest.raises(ImportError, match=r"make_sb3 needs Stable-Baselines3: pip install"):
            workbench.make_sb3("breakout", 2)
    finally:
        wb_sb3._sb3_vec_env_class.cache_clear()
