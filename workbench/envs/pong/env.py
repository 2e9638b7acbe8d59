"""Thin wrapper: declares Pong's spaces and parameters and allocates its buffers."""

import numpy as np
from gymnasium import spaces

from workbench.envs.base import VecEnv, paddle_action_space
from workbench.envs.pong.cy_pong import PongCore
from workbench.envs.registry import Param

WIDTH, HEIGHT, PADDLE_W = 500, 640, 20


class Pong(VecEnv):
    """Pong against a scripted opponent that tracks the ball; first to 21 ends the game.

    Observation (8 float32, all in [0, 1]): agent paddle centre / H, opponent paddle
    centre / H, ball x / W, ball y / H, (vx + 10) / 20, (vy + 13) / 26, agent score / 21,
    opponent score / 21 (real division). Actions: Discrete(3) {stay, up, down}, or
    ``continuous=True`` for a Box[-1, 1] paddle velocity (positive is down). Reward: +1 per
    point won, -1 per point lost, +0.1 per return. ``score`` = agent points, ``perf`` =
    agent points / all points.
    """

    name = "pong"
    action_meanings = ("stay", "up", "down")
    frame_shape = (HEIGHT, WIDTH + 2 * PADDLE_W, 3)
    PARAMS = {
        "frameskip": Param(8, int, "frames of 1/60 s each action is repeated for", low=1, high=64),
        "continuous": Param(False, bool, "Box[-1, 1] paddle velocity instead of Discrete(3)"),
    }

    def __init__(
        self, num_envs=1, seed=0, log_interval=128, slices=1, frameskip=8, continuous=False
    ):
        self.single_observation_space = spaces.Box(0.0, 1.0, shape=(8,), dtype=np.float32)
        self.single_action_space = paddle_action_space(continuous)
        super().__init__(num_envs, seed=seed, log_interval=log_interval, slices=slices)
        self._bind(PongCore, frameskip=frameskip, continuous=continuous)
