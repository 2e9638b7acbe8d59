"""Pong against a scripted opponent, vectorized in Cython."""

from workbench.envs.pong.env import Pong

__all__ = ["Pong"]
