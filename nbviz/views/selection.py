"""What the user has selected (layer, channel, sample), shared by all views of one run.

Views link through it (it lives in the run's context: ``view.context.selection``): the
structure table sets ``layer``, the feature-map and weight views follow; the embedding scatter
sets ``sample``, the feature-map view shows it.
"""

from __future__ import annotations

import traitlets


class Selection(traitlets.HasTraits):
    """The selected layer (dotted module name), channel and probe sample of one run."""

    layer = traitlets.Unicode("")
    channel = traitlets.Int(0)
    sample = traitlets.Int(0)

    @traitlets.validate("channel", "sample")
    def _non_negative(self, proposal: traitlets.Bunch) -> int:
        value = proposal["value"]
        if value < 0:
            raise traitlets.TraitError(f"{proposal['trait'].name} must be >= 0, got {value}")
        return value
