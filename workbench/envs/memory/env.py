"""Memory sanity env: recall a cue shown ``delay`` steps earlier (needs the LSTM)."""

import numpy as np
from gymnasium import spaces

from workbench.envs.base import VecEnv
from workbench.envs.memory.cy_memory import MemoryCore
from workbench.envs.registry import Param


class Memory(VecEnv):
    """Observation (3 float32): cue is 0, cue is 1 (both only on the first step), query flag.

    Actions: Discrete(2). On the query step (``delay`` steps after the cue) the action must
    equal the cue: reward 1 if so, 0 otherwise, and the episode ends. A memoryless policy
    is right half the time; ``perf`` is the fraction of correct recalls.
    """

    name = "memory"
    frame_shape = (16, 48, 3)
    PARAMS = {"delay": Param(4, int, "steps between the cue and the query", low=1, high=4096)}

    def __init__(self, num_envs=1, seed=0, log_interval=128, slices=1, delay=4):
        self.single_observation_space = spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
        self.single_action_space = spaces.Discrete(2)
        super().__init__(num_envs, seed=seed, log_interval=log_interval, slices=slices)
        self._bind(MemoryCore, delay=delay)
