"""workbench: a Jupyter-centric reinforcement-learning research workbench.

``make`` builds envs; ``train`` / ``launch`` run PPO and ``stop`` ends a run by id from
anywhere; ``sweep`` runs a hyperparameter sweep; ``RunStore`` reads recorded runs. Metric
names live in ``workbench.metrics``.
Heavy modules (torch, pandas) load on first use, so importing workbench is cheap.
"""

from workbench.envs import make

__version__ = "0.1.0"
__all__ = ["RunStore", "TrainConfig", "launch", "make", "stop", "sweep", "train"]


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
    if name == "RunStore":
        from workbench.store import RunStore

        return RunStore
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
