"""Multi-armed bandit sanity env: a policy must learn to pull the best (last) arm."""

import numpy as np
from gymnasium import spaces

from workbench.envs.bandit.cy_bandit import BanditCore
from workbench.envs.base import VecEnv
from workbench.envs.registry import Param


class Bandit(VecEnv):
    """k arms; arm i pays 1 with probability 0.2 + 0.6 * i / (k - 1), so the last is best.

    The observation is a constant 1. Every episode is one pull. ``score`` and ``perf``
    are 1 when the best arm was pulled, so perf is the fraction of best-arm pulls.
    """

    name = "bandit"
    PARAMS = {"arms": Param(4, int, "number of arms", low=2, high=64)}

    def __init__(self, num_envs=1, seed=0, log_interval=128, slices=1, arms=4):
        self.single_observation_space = spaces.Box(1.0, 1.0, shape=(1,), dtype=np.float32)
        self.single_action_space = spaces.Discrete(arms)
        self.frame_shape = (16, 16 * arms, 3)
        super().__init__(num_envs, seed=seed, log_interval=log_interval, slices=slices)
        self.probs = (0.2 + 0.6 * np.arange(arms) / (arms - 1)).astype(np.float32)
        self._bind(BanditCore, probs=self.probs)
