"""Embeddings: layer features for a probe set, and PCA / t-SNE / UMAP layouts of them.

Typical use from a view (all of it off the UI thread)::

    feats = extract_features(session, n=10_000)        # input of the last nn.Linear
    job = ProjectionJob(on_update=lambda job: ...)     # mark the view dirty, nothing more
    job.start(feats.values, "tsne", warm=True)   # warm start from the last t-SNE if any
    state, progress, layout, error, version = job.snapshot()   # from the pump thread

``feats.targets / predictions / confidence / loss`` colour the scatter. A failed run keeps
``job.layout`` (the previous layout) and sets ``error``.
"""

from .errors import ProjectionCancelled, ProjectionError, check_points
from .features import FeatureError, Features, default_layer, extract_features
from .pca import pca
from .project import METHODS, ProjectionJob, project
from .tsne import TSNE
from .umap import umap_available, umap_layout

__all__ = ["METHODS", "FeatureError", "Features", "ProjectionCancelled", "ProjectionError",
           "ProjectionJob", "TSNE", "check_points", "default_layer", "extract_features", "pca",
           "project", "umap_available", "umap_layout"]
