from workbench.envs.multiagent.env import MultiAgent

__all__ = ["MultiAgent"]
