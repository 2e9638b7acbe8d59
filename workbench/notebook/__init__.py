"""Notebook views: live curves, a run launcher, a runs browser and an agent viewer.

Importing this loads ipywidgets, plotly and anywidget; ``import workbench`` does not.
The trainer never imports this package: views use ``launch()``, its handles and the store.
"""

from workbench.notebook.browser import RunsBrowser, hyperparameter_correlations
from workbench.notebook.curves import LiveCurves
from workbench.notebook.launcher import Launcher
from workbench.notebook.viewer import FrameCanvas, Viewer

__all__ = [
    "FrameCanvas",
    "Launcher",
    "LiveCurves",
    "RunsBrowser",
    "Viewer",
    "hyperparameter_correlations",
]
