"""Embeddings: layer features for a probe set, and PCA / t-SNE / UMAP layouts of them.

Typical use from a view: one background path, features then layout::

    job = ProjectionJob(on_update=lambda job: ...)     # mark the view dirty, nothing more
    job.start(lambda cancel, report: extract_features(session, n=10_000, cancel=cancel),
              "tsne", warm=True, align=True)  # warm start from the last t-SNE if any
    status = job.status()        # from the pump thread: state, shown layout, data, error...

``status.data`` is the ``Features`` of the finished layout (``targets / predictions /
confidence / loss`` colour the scatter). A failed run keeps ``job.layout`` (the previous
layout) and sets ``error``. Memory is checked once, by :func:`require_memory`.
"""

from .align import procrustes
from .errors import ProjectionCancelled, ProjectionError, check_points
from .features import FeatureError, Features, default_layer, extract_features
from .memory import available_memory, require_memory
from .pca import pca
from .project import METHODS, JobStatus, ProjectionJob, project
from .tsne import TSNE
from .umap import umap_available, umap_layout

__all__ = ["METHODS", "FeatureError", "Features", "JobStatus", "ProjectionCancelled",
           "ProjectionError", "ProjectionJob", "TSNE", "available_memory", "check_points",
           "default_layer", "extract_features", "pca", "procrustes", "project", "require_memory",
           "umap_available", "umap_layout"]
