"""Any workbench env as a ``gymnasium.vector.VectorEnv``: ``make_gymnasium(name, num_envs)``.

For trainers written against Gymnasium's vector API (CleanRL, TorchRL, RLlib, your own
loop). Every agent slot is one sub-env, so a multi-agent env with ``num_envs`` copies of
k agents is a vector env of ``num_envs * k`` sub-envs (slot ``c * k + j`` is agent j of
copy c), all acting through one policy.

Semantics are Gymnasium's same-step autoreset, declared in
``metadata["autoreset_mode"]``: the observation returned on the step an episode ends
already starts the next one. ``info["final_obs"]`` (an object array, with the
``info["_final_obs"]`` mask) holds the last observation of each *truncated* copy, the
only case a learner needs it (to bootstrap from its value); a terminated copy's last
observation is not kept by the compiled cores, which reset in place, so its entry is
None and its mask False. Episode statistics come from Gymnasium's own
``gymnasium.wrappers.vector.RecordEpisodeStatistics``, which reads the declared mode;
``venv.env.log()`` gives the env's own episode means (score, perf).

Zero copy: ``reset`` and ``step`` return the env's own buffers, overwritten in place by
the next step, as ``SyncVectorEnv(copy=False)`` does; a loop that keeps an observation
across a step must copy it (``copy=True`` returns fresh arrays each step instead).
Actions go straight into the env's checks, so a wrong shape or dtype gets the env's own
error.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from workbench.envs.registry import make


class GymnasiumVectorEnv(gym.vector.VectorEnv):
    """A workbench ``VecEnv`` behind Gymnasium's vector API (see the module docstring)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": ["rgb_array"]}
    render_mode = "rgb_array"

    def __init__(self, env, copy: bool = False):
        #: The workbench env underneath (its buffers, ``log()``, ``render(index)``).
        self.env = env
        self.copy = bool(copy)
        self.num_envs = env.num_agents
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset every copy; with ``seed``, copy i is seeded from (seed, i)."""
        if options:
            why = (
                "partial resets (reset_mask) are not needed: copies reset themselves on the "
                "step their episode ends"
                if "reset_mask" in options
                else "this env takes no reset options"
            )
            raise ValueError(f"reset options {sorted(options)} are not supported: {why}")
        obs = self.env.reset(seed=seed)  # checks the seed, with the env's own message
        super().reset(seed=seed)
        return (obs.copy() if self.copy else obs), {}

    def step(self, actions):
        obs, rewards, terminals, truncations, _ = self.env.step(actions)
        info = {}
        final = self.env.final_observations
        if final is not None and truncations.any():
            rows = np.flatnonzero(truncations)
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in rows:  # a row each: Gymnasium's layout is an array of observations
                final_obs[i] = final[i].copy()
            info["final_obs"] = final_obs
            info["_final_obs"] = truncations.copy()
        if self.copy:
            return obs.copy(), rewards.copy(), terminals.copy(), truncations.copy(), info
        return obs, rewards, terminals, truncations, info

    def render(self):
        """A frame (H, W, 3) uint8 per copy (not per agent slot)."""
        return tuple(self.env.render(i) for i in range(self.env.num_copies))

    def close_extras(self, **kwargs) -> None:
        self.env.close()

    def __repr__(self) -> str:
        return f"GymnasiumVectorEnv({self.env!r}, num_envs={self.num_envs})"


def make_gymnasium(name, num_envs: int = 1, copy: bool = False, **params) -> GymnasiumVectorEnv:
    """Registered env ``name`` as a ``gymnasium.vector.VectorEnv`` of ``num_envs`` copies,
    e.g. ``make_gymnasium("breakout", 1024, seed=0)``; ``params`` as for ``make``."""
    return GymnasiumVectorEnv(make(name, num_envs=num_envs, **params), copy=copy)
