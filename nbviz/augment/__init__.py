"""Data augmentation for a training session: validated ops, a live pipeline, code export.

Example:
    >>> from nbviz.augment import ImageInfo, PipelineSpec
    >>> spec = PipelineSpec.default(ImageInfo(3, 32, 32)).with_changes("rotation", True, degrees=20)
    >>> transform = spec.build()        # a torchvision.transforms.v2.Compose
    >>> print(spec.code())              # the same pipeline as source code
"""

from .ops import OPS, AugmentationError, ImageInfo, Op, Param
from .pipeline import PipelineSpec, image_info
from .transforms import SpectralDistortion, spectral_distort
from .wiring import AugmentedDataset, PipelineHolder, attach, change, sample_seed, when_effective

__all__ = ["OPS", "AugmentationError", "AugmentedDataset", "ImageInfo", "Op", "Param",
           "PipelineHolder", "PipelineSpec", "SpectralDistortion", "attach", "change", "image_info",
           "sample_seed", "spectral_distort", "when_effective"]
