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
    "Weights": "nbviz.views.weights",
    "AugmentationPanel": "nbviz.views.augmentation",
    "Dashboard": "nbviz.views.dashboard",
    "FeatureMaps": "nbviz.views.feature_maps",
    "UnitActivations": "nbviz.views.unit_activations",
    "ModelStructure": "nbviz.views.structure",
    "EmbeddingExplorer": "nbviz.views.embeddings",
    "DecisionBoundary": "nbviz.views.decision_boundary",
    "DecisionPlane": "nbviz.views.decision_plane",
    "Playground": "nbviz.views.playground",
    "NetworkDiagram": "nbviz.views.network_diagram",
    "LossLandscape": "nbviz.views.landscape",
    "embed": "nbviz.embed",
    "widgets": "nbviz.widgets",
    "probes": "nbviz.probes",
    "datasets": "nbviz.datasets",
    "models": "nbviz.models",
    "check": "nbviz.debug",
    "Checklist": "nbviz.views.checklist",
    "Sweep": "nbviz.sweep",
    "SweepView": "nbviz.views.sweep",
    "sweep": "nbviz.sweep",
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
