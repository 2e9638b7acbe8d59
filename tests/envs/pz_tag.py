"""A tiny PettingZoo parallel env for the adapter tests (importable by path)."""

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv


class Tag(ParallelEnv):
    """Agent k (of 3) is rewarded with its action each step and terminates after k + 2
    steps; with ``truncate_at``, everyone still playing is truncated then."""

    metadata = {"name": "tag_v0"}

    def __init__(self, truncate_at=0, render_mode=None):
        self.possible_agents = ["a0", "a1", "a2"]
        self.truncate_at = truncate_at
        self.render_mode = render_mode
        self._obs_space = spaces.Box(-10, 10, (2,), np.float32)
        self._act_space = spaces.Discrete(2)

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.t = 0
        return {a: self._obs(a) for a in self.agents}, {a: {} for a in self.agents}

    def _obs(self, agent):
        return np.array([self.possible_agents.index(agent), self.t], np.float32)

    def step(self, actions):
        self.t += 1
        rewards = {a: float(actions[a]) for a in self.agents}
        term = {a: self.t >= self.possible_agents.index(a) + 2 for a in self.agents}
        trunc = {a: bool(self.truncate_at) and self.t >= self.truncate_at for a in self.agents}
        obs = {a: self._obs(a) for a in self.agents}
        self.agents = [a for a in self.agents if not (term[a] or trunc[a])]
        return obs, rewards, term, trunc, {a: {} for a in obs}

    def render(self):
        return np.full((4, 4, 3), self.t, np.uint8)


def parallel_env(**kwargs):
    return Tag(**kwargs)
