"""Crates: a procedurally generated box-pushing puzzle with a difficulty knob."""

from workbench.envs.puzzle.env import Puzzle

__all__ = ["Puzzle"]
