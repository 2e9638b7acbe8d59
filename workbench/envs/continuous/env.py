"""Continuous-action sanity env: output the observed target vector."""

import numpy as np
from gymnasium import spaces

from workbench.envs.base import VecEnv
from workbench.envs.continuous.cy_continuous import ContinuousCore
from workbench.envs.registry import Param


class Continuous(VecEnv):
    """Observation: a target in [-1, 1]^dim, fresh every step. Action: Box[-1, 1]^dim.

    Reward: minus the mean absolute error (actions clipped to the box). One-step episodes.
    ``perf`` = 1 - error / 2, so 1 is exact and a constant-zero policy gets 0.75.
    """

    name = "continuous"
    PARAMS = {"dim": Param(2, int, "action and target dimension", low=1, high=64)}

    def __init__(self, num_envs=1, seed=0, log_interval=128, slices=1, dim=2):
        self.single_observation_space = spaces.Box(-1.0, 1.0, shape=(dim,), dtype=np.float32)
        self.single_action_space = spaces.Box(-1.0, 1.0, shape=(dim,), dtype=np.float32)
        self.frame_shape = (64, 16 * dim, 3)
        super().__init__(num_envs, seed=seed, log_interval=log_interval, slices=slices)
        self._bind(ContinuousCore)
