"""Thin wrapper: declares multi-agent Snake's spaces, parameters, buffers and encoder."""

import numpy as np
from gymnasium import spaces
from torch import nn

from workbench.envs.base import VecEnv
from workbench.envs.encoders import TileEncoder
from workbench.envs.registry import Param
from workbench.envs.snake.cy_snake import SnakeCore

NUM_TILES = 8  # empty, food, corpse, wall, four snake colours


class Snake(VecEnv):
    """Multi-agent Snake: ``num_envs`` grids, each with ``num_snakes`` snakes (agents).

    Observation: the (2*vision+1)^2 window of int8 tile codes around each head: 0 empty,
    1 food, 2 corpse, 3 wall, 4-7 snake bodies. Actions: Discrete(4) up, down, left,
    right; turning back into the neck keeps going straight. Hitting a wall or a body:
    reward -1, a terminal for that snake, and it respawns at once with length 1 (with
    ``leave_corpse``, every other cell of its body becomes a corpse). Food or a corpse:
    +0.1 and the snake grows (up to 1024); eaten food respawns elsewhere. Logged on death:
    ``score`` = length, ``perf`` = length / 100 (capped at 1): see README.md.
    """

    name = "snake"
    action_meanings = ("up", "down", "left", "right")
    PARAMS = {
        "num_snakes": Param(256, int, "snakes (agents) per grid", low=1, high=16384),
        "num_food": Param(4096, int, "food items kept on each grid", low=0, high=1 << 20),
        "vision": Param(5, int, "cells seen in each direction (window 2*vision+1)", low=1, high=15),
        "width": Param(640, int, "grid width in cells, border included", low=16, high=4096),
        "height": Param(360, int, "grid height in cells, border included", low=16, high=4096),
        "leave_corpse": Param(True, bool, "a dead snake leaves every other cell as a corpse"),
    }

    @staticmethod
    def check_params(p: dict) -> None:
        inner = (p["width"] - 2 * p["vision"]) * (p["height"] - 2 * p["vision"])
        if inner <= 0 or p["num_snakes"] + p["num_food"] > inner // 4:
            raise ValueError(
                f"snake: num_snakes + num_food = {p['num_snakes'] + p['num_food']} must fit "
                f"in a quarter of the {max(inner, 0)} free cells of a {p['width']}x"
                f"{p['height']} grid with vision {p['vision']}: use at most {max(inner, 0) // 4}"
            )

    @staticmethod
    def agents_per_copy(params: dict) -> int:
        return params.get("num_snakes", 256)

    def __init__(
        self,
        num_envs=1,
        seed=0,
        log_interval=128,
        slices=1,
        num_snakes=256,
        num_food=4096,
        vision=5,
        width=640,
        height=360,
        leave_corpse=True,
    ):
        win = 2 * vision + 1
        self.single_observation_space = spaces.Box(
            0, NUM_TILES - 1, shape=(win, win), dtype=np.int8
        )
        self.single_action_space = spaces.Discrete(4)
        self.frame_shape = (height, width, 3)
        self.num_grids = num_envs
        super().__init__(num_envs * num_snakes, seed=seed, log_interval=log_interval, slices=slices)
        self._bind(
            SnakeCore,
            num_snakes=num_snakes,
            num_food=num_food,
            vision=vision,
            width=width,
            height=height,
            leave_corpse=leave_corpse,
        )

    @property
    def num_copies(self) -> int:
        return self.num_grids

    def make_encoder(self, hidden: int) -> nn.Module:
        return TileEncoder(int(np.prod(self.single_observation_space.shape)), NUM_TILES, hidden)
