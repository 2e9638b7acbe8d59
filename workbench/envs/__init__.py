"""Vectorized environments and their registry.

``make(name, **params)`` builds any registered env; compiled modules load on first use.
"""

from workbench.envs.registry import env_params, make, names, register

register("breakout", "workbench.envs.breakout:Breakout")

__all__ = ["env_params", "make", "names", "register"]
