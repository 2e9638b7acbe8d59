"""Hyperparameter sweeps: a cost-aware black-box optimizer that fills a score-vs-cost front,
and the driver that runs it on training trials.

``Sweeper`` (in ``engine``) is the optimizer; ``Space`` defines what is swept. The modules
beside them each hold one concern (space, constraints, models, pareto, suggest, stopping);
``definition`` reads ``sweeps/*.toml``, ``driver`` runs trials through an executor
(``executors/``). Importing this package is cheap: scikit-learn and scikit-optimize load on
the first model fit, torch on the first trial.

The package is also callable: ``workbench.sweep(definition, ...)`` is
:func:`workbench.sweep.driver.sweep` (the subpackage and the function share the name);
``workbench.sweep(objective=f, space={...})`` sweeps any Python function the same way
(``objective``).
"""

import sys
import types

from workbench.sweep.engine import Sweeper
from workbench.sweep.executors.objective import TrialStopped
from workbench.sweep.space import Space

__all__ = ["Space", "Sweeper", "TrialStopped", "sweep"]


def sweep(*args, **kwargs):
    """Run a sweep: see :func:`workbench.sweep.driver.sweep`."""
    from workbench.sweep.driver import sweep as run

    return run(*args, **kwargs)


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
