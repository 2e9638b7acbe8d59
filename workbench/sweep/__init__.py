"""Hyperparameter sweeps: a cost-aware black-box optimizer that fills a score-vs-cost front.

``Sweeper`` (in ``engine``) is the public entry point; ``Space`` defines what is swept. The
modules beside them each hold one concern (space, constraints, models, pareto, suggest,
stopping). Importing this package is cheap: scikit-learn and scikit-optimize load on the first
model fit.
"""

from workbench.sweep.engine import Sweeper
from workbench.sweep.space import Space

__all__ = ["Space", "Sweeper"]
