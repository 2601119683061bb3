"""Embedded default data (no download) and loaders for standard datasets."""

from .digits import digits
from .shapes import SHAPE_CLASSES, shapes
from .split import DataSplit
from .standard import Cifar10, DatasetNotFoundError, cifar10, fashion_mnist, mnist
from .toy2d import TOY2D_KINDS, toy2d

__all__ = ["SHAPE_CLASSES", "Cifar10", "DataSplit", "DatasetNotFoundError", "cifar10", "digits",
           "fashion_mnist", "mnist", "shapes", "TOY2D_KINDS", "toy2d"]
