"""Hook-based capture on a fixed probe batch that never perturbs training."""

from .diagnose import ForwardFailure, locate_forward_failure
from .guard import model_device, probe_mode
from .param_stats import ParamStats

__all__ = ["ForwardFailure", "ParamStats", "locate_forward_failure", "model_device", "probe_mode"]
