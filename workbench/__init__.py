"""workbench: a Jupyter-centric reinforcement-learning research workbench.

``make`` builds envs (``make_gymnasium`` / ``make_sb3``: the same envs as Gymnasium or
Stable-Baselines3 vector envs); ``train`` / ``launch`` run PPO and ``stop`` ends a run by id from
anywhere; ``sweep`` runs a hyperparameter sweep; ``RunStore`` reads recorded runs. Metric
names live in ``workbench.metrics``.
Heavy modules (torch, pandas) load on first use, so importing workbench is cheap.
"""

from workbench.envs import make

__version__ = "0.1.0"
__all__ = [
    "RunStore",
    "TrainConfig",
    "launch",
    "make",
    "make_gymnasium",
    "make_sb3",
    "stop",
    "sweep",
    "train",
]


def __getattr__(name):
    if name in ("train", "launch", "stop"):
        from workbench.ppo import run

        return getattr(run, name)
    if name == "TrainConfig":
        from workbench.ppo.config import TrainConfig

        return TrainConfig
    if name == "sweep":  # the subpackage, callable as the function (workbench.sweep(...))
        import workbench.sweep

        return workbench.sweep
    if name == "make_gymnasium":
        from workbench.envs.vector import make_gymnasium

        return make_gymnasium
    if name == "make_sb3":  # Stable-Baselines3 itself is imported only when it is called
        from workbench.envs.sb3 import make_sb3

        return make_sb3
    if name == "RunStore":
        from workbench.store import RunStore

        return RunStore
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
