"""workbench: a Jupyter-centric reinforcement-learning research workbench."""

from workbench.envs import make

__version__ = "0.1.0"
__all__ = ["make"]
