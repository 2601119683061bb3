"""Embeddings: layer features for a probe set, and PCA / t-SNE / UMAP layouts of them."""

from .errors import ProjectionCancelled, ProjectionError, check_points
from .features import FeatureError, Features, default_layer, extract_features
from .pca import pca
from .project import METHODS, ProjectionJob, project
from .tsne import TSNE
from .umap import umap_available, umap_layout

__all__ = ["METHODS", "FeatureError", "Features", "ProjectionCancelled", "ProjectionError",
           "ProjectionJob", "TSNE", "check_points", "default_layer", "extract_features", "pca",
           "project", "umap_available", "umap_layout"]
