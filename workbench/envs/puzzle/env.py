"""Crates: a box-pushing puzzle with a ``difficulty`` knob (see cy_puzzle.pyx for generation).

Rules (Sokoban): the player moves up, down, left or right; walking into a box pushes it
one cell if the cell beyond is free (no wall, no box). The level is solved when every box
rests on a target. Levels are generated from a seed by reverse play, so each is solvable
in at most ``10 * difficulty`` moves.

Difficulty d (1..10): room of (4 + d) x (4 + d) floor cells, 1 + (d - 1) // 3 boxes,
d interior wall blocks, a reverse walk of 10 d moves, and a time limit of 30 d + 20
steps (``max_steps`` overrides it).

Observation: the room and its walls, a (d + 6) x (d + 6) int8 grid: 0 floor, 1 wall,
2 box, 3 target, 4 box on target, 5 player, 6 player on target. Reward: +0.1 per box pushed onto
a target, -0.1 per box pushed off one, +1 when solved. Solving is a terminal; running out
of time is a truncation. ``perf`` = 1 when solved, 0 on timeout; the mean ``score`` is the
solved fraction.

Levels: ``levels=0`` draws a new level for every episode from the copy's RNG; ``levels=N``
cycles through a fixed set of N levels that depends only on the difficulty (not the seed),
copy i starting at level i % N: use it for evaluation.
"""

import numpy as np
from gymnasium import spaces
from torch import nn

from workbench.envs.base import VecEnv
from workbench.envs.encoders import TileEncoder
from workbench.envs.puzzle.cy_puzzle import PuzzleCore
from workbench.envs.registry import Param

NUM_CODES = 7


class Puzzle(VecEnv):
    name = "puzzle"
    can_truncate = True
    action_meanings = ("up", "down", "left", "right")
    PARAMS = {
        "difficulty": Param(3, int, "room size, boxes and solution length", low=1, high=10),
        "levels": Param(
            0, int, "0: a new level every episode; N: a fixed set of N levels", low=0, high=1 << 20
        ),
        "max_steps": Param(
            0, int, "time limit in steps (0: 30 * difficulty + 20)", low=0, high=1 << 20
        ),
    }

    def __init__(
        self, num_envs=1, seed=0, log_interval=128, slices=1, difficulty=3, levels=0, max_steps=0
    ):
        side = difficulty + 6
        self.single_observation_space = spaces.Box(
            0, NUM_CODES - 1, shape=(side, side), dtype=np.int8
        )
        self.frame_shape = (side * 16, side * 16, 3)
        self.single_action_space = spaces.Discrete(4)
        super().__init__(num_envs, seed=seed, log_interval=log_interval, slices=slices)
        self._bind(PuzzleCore, difficulty=difficulty, levels=levels, max_steps=max_steps)

    def make_encoder(self, hidden: int) -> nn.Module:
        return TileEncoder(int(np.prod(self.single_observation_space.shape)), NUM_CODES, hidden)
