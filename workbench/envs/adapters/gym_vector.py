"""Gymnasium vector entry points in the adapter's same-step contract.

Gymnasium registers numpy-vectorized implementations for some envs (``CartPole-v1``'s
``CartPoleVectorEnv``), which step every copy in a few array operations instead of a
Python loop. They auto-reset a finished copy on the *next* step (its action ignored,
reward 0), while workbench buffers already hold the next episode's first observation on
the step an episode ends. The translation is exact only where the vector env can reset
some copies on demand (``reset(options={"reset_mask": done})``, which also cancels the
pending next-step reset): the adapter steps, keeps the final observations, then resets
the finished copies at once. ``CartPoleVectorEnv`` has no partial reset, so
:class:`CartPoleResets` adds one; it also seeds copy i from ``seed + i`` with its own
generator, as ``SyncVectorEnv`` seeds its copies, so both paths give the same trajectories
under a seed. Vector envs that already auto-reset on the same step are used as they are.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import utils
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode


class CartPoleResets(CartPoleVectorEnv):
    """``CartPoleVectorEnv`` with per-copy seeding and partial resets (``reset_mask``)."""

    def __init__(self, num_envs: int = 1, **kwargs):
        super().__init__(num_envs=num_envs, **kwargs)
        self.copy_rngs = [seeding.np_random(None)[0] for _ in range(num_envs)]

    def reset(self, *, seed=None, options=None):
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            # A full reset: copy i starts a fresh stream from seed + i (as SyncVectorEnv does).
            if seed is not None:
                self.copy_rngs = [seeding.np_random(seed + i)[0] for i in range(self.num_envs)]
            self.state = np.zeros((4, self.num_envs))
            self.steps = np.zeros(self.num_envs, dtype=np.int32)
            mask = np.ones(self.num_envs, dtype=bool)
        # The same draw as CartPoleEnv.reset, from each copy's own generator.
        self.low, self.high = utils.maybe_parse_reset_bounds(options, -0.05, 0.05)
        for i in np.flatnonzero(mask):
            self.state[:, i] = self.copy_rngs[i].uniform(low=self.low, high=self.high, size=(4,))
        self.steps[mask] = 0
        self.prev_done[mask] = False  # the reset is done: no next-step reset for these copies
        return self.state.T.astype(np.float32), {}


#: Vector entry points without a partial reset, and the subclass that adds one.
PARTIAL_RESETS = {
    "gymnasium.envs.classic_control.cartpole:CartPoleVectorEnv": CartPoleResets,
}


def vector_entry_point(env_id: str, num_envs: int, kwargs: dict):
    """The env's vector entry point as a vector env the adapter can translate exactly, or
    ``(None, why)`` when it has none or cannot be translated."""
    spec = gym.spec(env_id)
    entry = spec.vector_entry_point
    if entry is None:
        return None, f"Gymnasium registers no vector entry point for {env_id!r}"
    kwargs = {**spec.kwargs, **kwargs}
    if spec.max_episode_steps is not None:
        kwargs.setdefault("max_episode_steps", spec.max_episode_steps)
    shim = PARTIAL_RESETS.get(entry) if isinstance(entry, str) else None
    if shim is not None:
        return shim(num_envs=num_envs, **kwargs), ""
    venv = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
    )
    if venv.metadata.get("autoreset_mode") == AutoresetMode.SAME_STEP:
        return venv, ""
    venv.close()
    return None, (
        f"{env_id!r}'s vector entry point auto-resets on the next step and has no partial "
        "reset, so same-step semantics cannot be kept exactly"
    )
