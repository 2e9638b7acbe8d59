"""Breakout: the Atari classic, vectorized in Cython."""

from workbench.envs.breakout.env import Breakout

__all__ = ["Breakout"]
