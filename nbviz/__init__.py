"""nbviz: see inside a PyTorch model while it trains, and steer it, from a notebook cell.

Heavy or optional packages (bqplot, ipympl, openTSNE, umap) load only when the view that
needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from .session import (
    Callback,
    HyperparameterError,
    StopTraining,
    TrainingError,
    TrainingSession,
    Watch,
    watch,
)

__version__ = "0.1.0"

# public name -> module that defines it, imported on first access
_LAZY = {
    "ActivationStats": "nbviz.views.activations",
    "GradientFlow": "nbviz.views.gradients",
    "ParamStats": "nbviz.probes.param_stats",
    "Weights": "nbviz.views.weights",
    "AugmentationPanel": "nbviz.views.augmentation",
    "Dashboard": "nbviz.views.dashboard",
    "FeatureMaps": "nbviz.views.feature_maps",
    "ImageGrid": "nbviz.views.image_grid",
    "ModelStructure": "nbviz.views.structure",
    "EmbeddingExplorer": "nbviz.views.embeddings",
    "ScatterWidget": "nbviz.views.scatter_widget",
    "embed": "nbviz.embed",
    "datasets": "nbviz.datasets",
    "models": "nbviz.models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbviz' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module.endswith("." + name) else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["Callback", "HyperparameterError", "StopTraining", "TrainingError", "TrainingSession", "Watch",
           "watch", *_LAZY]
