"""Hyperparameter search, live: Optuna's samplers and pruners, trials on Dask distributed.

Needs the ``sweep`` extra (``pip install nbviz[sweep]``: optuna, dask[distributed], pandas).
"""

from .space import SweepSpaceError, int_range, log_uniform, uniform
from .sweep import Sweep
from .trial import Pruned, Trial

__all__ = ["Pruned", "Sweep", "SweepSpaceError", "Trial", "int_range", "log_uniform", "uniform"]
