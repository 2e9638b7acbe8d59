"""Time-limit sanity env: checks that truncation bootstraps the value instead of zeroing it."""

import numpy as np
from gymnasium import spaces

from workbench.envs.base import VecEnv
from workbench.envs.registry import Param
from workbench.envs.timelimit.cy_timelimit import TimeLimitCore


class TimeLimit(VecEnv):
    """Reward 1 every step; never terminal; truncated after ``limit`` steps.

    The observation is a constant 1 (no clock), so with truncation bootstrapped the value
    is 1 / (1 - gamma) everywhere; zeroing it at truncation gives a visibly smaller value.
    """

    name = "timelimit"
    can_truncate = True
    frame_shape = (8, 64, 3)
    PARAMS = {"limit": Param(8, int, "steps before truncation", low=1, high=1 << 20)}

    def __init__(self, num_envs=1, seed=0, log_interval=128, slices=1, limit=8):
        self.single_observation_space = spaces.Box(1.0, 1.0, shape=(1,), dtype=np.float32)
        self.single_action_space = spaces.Discrete(2)
        super().__init__(num_envs, seed=seed, log_interval=log_interval, slices=slices)
        self._bind(TimeLimitCore, limit=limit)
