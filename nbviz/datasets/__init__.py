"""Embedded default data (no download) and loaders for standard datasets."""

from .digits import digits
from .split import DataSplit

__all__ = ["DataSplit", "digits"]
