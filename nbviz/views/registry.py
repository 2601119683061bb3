"""The tabs a Dashboard shows besides Training, in order: (title, "module:Class").

Each class takes the session as its only required argument and is a LiveView.
"""

from __future__ import annotations

DASHBOARD_TABS: list[tuple[str, str]] = [
    ("Feature maps", "nbviz.views.feature_maps:FeatureMaps"),
    ("Units", "nbviz.views.unit_activations:UnitActivations"),
    ("Structure", "nbviz.views.structure:ModelStructure"),
    ("Embeddings", "nbviz.views.embeddings:EmbeddingExplorer"),
    ("Augmentation", "nbviz.views.augmentation:AugmentationPanel"),
    ("Weights", "nbviz.views.weights:Weights"),
    ("Gradients", "nbviz.views.gradients:GradientFlow"),
    ("Activations", "nbviz.views.activations:ActivationStats"),
    ("Decision boundary", "nbviz.views.decision_boundary:DecisionBoundary"),
    ("Decision plane", "nbviz.views.decision_plane_tab:DecisionPlaneTab"),
    ("Checklist", "nbviz.views.checklist:Checklist"),
    ("Landscape", "nbviz.views.landscape:LossLandscape"),
]
