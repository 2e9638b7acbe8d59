"""Multi-agent Snake: many snakes per grid, each an agent, vectorized in Cython."""

from workbench.envs.snake.env import Snake

__all__ = ["Snake"]
