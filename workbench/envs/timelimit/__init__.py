from workbench.envs.timelimit.env import TimeLimit

__all__ = ["TimeLimit"]
