"""Multi-agent sanity env: several agents per copy, each must pick its own index."""

import numpy as np
from gymnasium import spaces

from workbench.envs.base import VecEnv
from workbench.envs.multiagent.cy_multiagent import MultiAgentCore
from workbench.envs.registry import Param


class MultiAgent(VecEnv):
    """``agents`` agents per copy (agent k of copy c is agent index c * agents + k).

    Observation: one-hot of k (``agents`` float32). Actions: Discrete(agents); reward 1 when
    agent k picks action k, else 0. Every episode is one step; ``perf`` is the hit rate.
    """

    name = "multiagent"
    PARAMS = {"agents": Param(4, int, "agents per copy", low=2, high=64)}

    @staticmethod
    def agents_per_copy(params: dict) -> int:
        return params.get("agents", 4)

    def __init__(self, num_envs=1, seed=0, log_interval=128, slices=1, agents=4):
        self.single_observation_space = spaces.Box(0.0, 1.0, shape=(agents,), dtype=np.float32)
        self.single_action_space = spaces.Discrete(agents)
        self.frame_shape = (16, 16 * agents, 3)
        super().__init__(num_envs * agents, seed=seed, log_interval=log_interval, slices=slices)
        self._bind(MultiAgentCore, agents=agents)

    @property
    def num_copies(self) -> int:
        return self.num_agents // self.agents
