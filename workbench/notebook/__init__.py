"""Notebook views: live curves, a run launcher, a runs browser, an agent viewer and a live
sweep view with parameter importance, and sweeps compared side by side.

Importing this loads ipywidgets, plotly and anywidget; ``import workbench`` does not.
The trainer never imports this package: views use ``launch()``, its handles and the store.
"""

from workbench.notebook.browser import RunsBrowser, hyperparameter_correlations
from workbench.notebook.curves import LiveCurves, seed_groups
from workbench.notebook.importance import parameter_importance
from workbench.notebook.launcher import Launcher, RunCard
from workbench.notebook.sweepcompare import CompareView
from workbench.notebook.sweepview import SweepView
from workbench.notebook.viewer import FrameCanvas, Viewer

__all__ = [
    "CompareView",
    "FrameCanvas",
    "Launcher",
    "LiveCurves",
    "RunCard",
    "RunsBrowser",
    "SweepView",
    "Viewer",
    "hyperparameter_correlations",
    "parameter_importance",
    "seed_groups",
]
