"""Any workbench env as a Stable-Baselines3 ``VecEnv``: ``make_sb3(name, num_envs)``.

SB3 is an optional extra (``pip install 'workbench[sb3]'``), imported only when
``make_sb3`` is called. Agent slots are SB3's sub-envs (a multi-agent env of ``num_envs``
copies of k agents has ``num_envs * k``). Each finished episode's info carries what
SB3's ``Monitor`` would write (``info["episode"] = {"r", "l", "t"}``, so
``rollout/ep_rew_mean`` is logged without a ``VecMonitor``), ``TimeLimit.truncated``,
and for truncated episodes ``terminal_observation`` (the value SB3 bootstraps from). A
terminated copy's last observation is not kept by the compiled cores, which reset in
place; SB3 never reads it (the episode's value is zero), though ``VecFrameStack``
warns once that it is missing.

Copies: SB3 keeps the previous observation (``_last_obs``) while stepping and adds it to
its rollout buffer afterwards, so observations, rewards and dones are returned as fresh
arrays, not the env's buffers that the next step overwrites.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from workbench.envs.registry import make


def make_sb3(name, num_envs: int = 1, **params):
    """Registered env ``name`` as a ``stable_baselines3.common.vec_env.VecEnv`` of
    ``num_envs`` copies, e.g. ``PPO("MlpPolicy", make_sb3("breakout", 8))``."""
    cls = _sb3_vec_env_class()  # SB3 is checked before any env is built
    return cls(make(name, num_envs=num_envs, **params))


@functools.cache
def _sb3_vec_env_class():
    try:
        from stable_baselines3.common.vec_env import VecEnv
    except ImportError:
        raise ImportError(
            "make_sb3 needs Stable-Baselines3: pip install 'workbench[sb3]' "
            "(or pip install stable-baselines3)"
        ) from None

    class WorkbenchVecEnv(VecEnv):
        """A workbench ``VecEnv`` behind SB3's ``VecEnv`` API (see the module docstring)."""

        render_mode = "rgb_array"

        def __init__(self, env):
            #: The workbench env underneath (its buffers, ``log()``, ``render(index)``).
            self.env = env
            n = env.num_agents
            super().__init__(n, env.single_observation_space, env.single_action_space)
            self.metadata = {"render_modes": ["rgb_array"]}
            self._actions = None
            self._returns = np.zeros(n, dtype=np.float64)
            self._lengths = np.zeros(n, dtype=np.int64)
            self._start = time.perf_counter()

        def reset(self):
            self.env.reset(seed=self._seeds[0])  # SB3's seed(s) sets seeds s, s+1, ...
            self._reset_seeds()
            self._reset_options()
            self._returns[:] = 0
            self._lengths[:] = 0
            return self.env.observations.copy()

        def step_async(self, actions) -> None:
            self._actions = actions

        def step_wait(self):
            env = self.env
            # PettingZoo slots of finished agents report zero-reward terminals until their
            # copy resets: dones for SB3, but no episodes.
            masks = getattr(env, "masks", None)
            live = None if masks is None else masks.copy()
            obs, rewards, terminals, truncations, _ = env.step(self._actions)
            self._returns += rewards
            self._lengths += 1
            dones = terminals | truncations
            infos = [{} for _ in range(self.num_envs)]
            now = round(time.perf_counter() - self._start, 6)
            for i in np.flatnonzero(dones):
                info = infos[i]
                info["TimeLimit.truncated"] = bool(truncations[i] and not terminals[i])
                if truncations[i] and env.final_observations is not None:
                    info["terminal_observation"] = env.final_observations[i].copy()
                if live is None or live[i]:
                    info["episode"] = {
                        "r": float(self._returns[i]),
                        "l": int(self._lengths[i]),
                        "t": now,
                    }
                self._returns[i] = 0
                self._lengths[i] = 0
            return obs.copy(), rewards.copy(), dones, infos

        def close(self) -> None:
            self.env.close()

        def get_images(self):
            return [self.env.render(i) for i in range(self.env.num_copies)]

        # The sub-envs are slots of one workbench env: attribute access goes to it, once.
        def get_attr(self, attr_name, indices=None):
            value = self.render_mode if attr_name == "render_mode" else getattr(self.env, attr_name)
            return [value] * len(list(self._get_indices(indices)))

        def set_attr(self, attr_name, value, indices=None) -> None:
            setattr(self.env, attr_name, value)

        def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
            result = getattr(self.env, method_name)(*method_args, **method_kwargs)
            return [result] * len(list(self._get_indices(indices)))

        def env_is_wrapped(self, wrapper_class, indices=None):
            return [False] * len(list(self._get_indices(indices)))

    return WorkbenchVecEnv
