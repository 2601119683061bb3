"""The base of views that show one sample of the run's probe batch (feature maps, unit bars):
the probe batch, the validated ``sample`` trait and its slider."""

from __future__ import annotations

import torch
import traitlets

from ..widgets import guarded
from .base import LiveView

MAX_PROBE = 1024


def check_probe_size(probe_size: object) -> int:
    if isinstance(probe_size, bool) or not isinstance(probe_size, int) or not 1 <= probe_size <= MAX_PROBE:
        raise ValueError(f"probe_size must be a whole number 1..{MAX_PROBE}, got {probe_size!r}")
    return probe_size


class ProbeSampleView(LiveView):
    """A view of one probe sample, chosen by ``sample`` (an index into the probe batch)."""

    sample = traitlets.Int(0)

    _inputs: torch.Tensor
    _targets: torch.Tensor

    def _take_probe(self, probe_size: int) -> None:
        """Draw the probe batch and start at the run's selected sample (or the last one)."""
        self._inputs, self._targets = self.session.probe_batch(probe_size)
        self.sample = min(self.context.selection.sample, len(self._inputs) - 1)

    def _sample_slider(self) -> guarded.IntSlider:
        """A slider over the probe batch, at the current sample (link it to ``sample``)."""
        return guarded.IntSlider(value=self.sample, min=0, max=len(self._inputs) - 1,
                                 description="sample")

    @traitlets.validate("sample")
    def _valid_sample(self, proposal: traitlets.Bunch) -> int:
        value, high = proposal["value"], len(self._inputs) - 1
        if not 0 <= value <= high:
            raise traitlets.TraitError(f"sample {value!r} is outside 0..{high}")
        return value


__all__ = ["MAX_PROBE", "ProbeSampleView", "check_probe_size"]
