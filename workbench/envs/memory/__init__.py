from workbench.envs.memory.env import Memory

__all__ = ["Memory"]
