"""Vectorized environments and their registry.

``make(name, **params)`` builds any registered env; compiled modules load on first use.
"""

from workbench.envs.registry import env_params, make, names, register

register("breakout", "workbench.envs.breakout:Breakout")
register("pong", "workbench.envs.pong:Pong")
register("snake", "workbench.envs.snake:Snake")
register("bandit", "workbench.envs.bandit:Bandit")
register("memory", "workbench.envs.memory:Memory")
register("timelimit", "workbench.envs.timelimit:TimeLimit")

__all__ = ["env_params", "make", "names", "register"]
