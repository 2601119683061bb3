"""Loss landscapes: directions, surfaces on a plane, lines between points, the recorded path.

Everything here evaluates a *copy* of the model in eval mode (BatchNorm uses its running
statistics and does not update them) on a fixed probe set, so training is never perturbed.
"""

from __future__ import annotations

from .directions import (
                         filter_normalize,
                         flat_parameters,
                         hessian_directions,
                         pca_directions,
                         random_directions,
                         trainable_parameters,
)
from .evaluate import evaluate_at, model_copy
from .line import interpolate
from .surface import Plane, SurfaceJob, project
from .trajectory import TrajectoryRecorder

__all__ = ["Plane", "SurfaceJob", "TrajectoryRecorder", "evaluate_at", "filter_normalize",
           "flat_parameters", "hessian_directions", "interpolate", "model_copy", "pca_directions", "project",
           "random_directions", "trainable_parameters"]
