"""Thin wrapper: declares Breakout's spaces and parameters and allocates its buffers."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from workbench.envs.base import VecEnv, paddle_action_space
from workbench.envs.breakout.cy_breakout import BreakoutCore
from workbench.envs.registry import Param

WIDTH, HEIGHT = 576, 330
MAX_SCORE = 864
# Largest |velocity| component in px per frame, as observed (/512).
_MAX_V = 448.0 / 60.0 / 512.0


class Breakout(VecEnv):
    """Breakout on a 576 x 330 field: 6 x 18 bricks, 5 spare balls, score up to 864.

    Observation (118 float32): paddle x/W, paddle y/H, ball x/W, ball y/H, vx/512,
    vy/512 (px per frame), ball-in-play flag / 5, score/864, balls left / 5, paddle
    width / 62, then 108 brick flags (0 present, 1 broken). Reward: points of the
    bricks broken in the step. ``perf`` = score / 864.
    """

    name = "breakout"
    action_meanings = ("noop", "left", "right")
    frame_shape = (HEIGHT, WIDTH, 3)
    PARAMS = {
        "frameskip": Param(4, int, "frames of 1/60 s each action is repeated for", low=1, high=64),
        "continuous": Param(False, bool, "Box[-1, 1] paddle velocity instead of Discrete(3)"),
    }

    def __init__(
        self, num_envs=1, seed=0, log_interval=128, slices=1, frameskip=4, continuous=False
    ):
        low = np.zeros(118, dtype=np.float32)
        high = np.ones(118, dtype=np.float32)
        low[4:6], high[4:6] = -_MAX_V, _MAX_V
        self.single_observation_space = spaces.Box(low, high, dtype=np.float32)
        self.single_action_space = paddle_action_space(continuous)
        super().__init__(num_envs, seed=seed, log_interval=log_interval, slices=slices)
        self._bind(BreakoutCore, frameskip=frameskip, continuous=continuous)
