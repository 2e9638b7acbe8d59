"""Vectorized environments and their registry.

``make(name, **params)`` builds any registered env; compiled modules load on first use.
"""

from workbench.envs.registry import env_params, make, names, register

register("breakout", "workbench.envs.breakout:Breakout")
register("pong", "workbench.envs.pong:Pong")
register("snake", "workbench.envs.snake:Snake")
register("puzzle", "workbench.envs.puzzle:Puzzle")
register("bandit", "workbench.envs.bandit:Bandit")
register("memory", "workbench.envs.memory:Memory")
register("timelimit", "workbench.envs.timelimit:TimeLimit")
register("multiagent", "workbench.envs.multiagent:MultiAgent")
register("continuous", "workbench.envs.continuous:Continuous")

__all__ = ["env_params", "make", "names", "register"]
