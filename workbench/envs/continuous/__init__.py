from workbench.envs.continuous.env import Continuous

__all__ = ["Continuous"]
