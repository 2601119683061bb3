"""Hook-based capture on a fixed probe batch that never perturbs training."""

from .diagnose import ForwardFailure, locate_forward_failure
from .guard import model_device, probe_mode

__all__ = ["ForwardFailure", "locate_forward_failure", "model_device", "probe_mode"]
