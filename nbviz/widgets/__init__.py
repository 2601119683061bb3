"""Building blocks of the views, usable on their own.

- :class:`ImageGrid`: uint8 image tiles on one canvas, click a tile (js/src/image_grid.js);
- :class:`ScatterWidget`: a WebGL scatter of up to 100k points with hover thumbnails
  (js/src/scatter.js);
- :class:`NetworkCanvas`: a network diagram, weights as edges and node maps as thumbnails
  (js/src/network.js);
- :mod:`nbviz.widgets.images`: the one tensor-to-picture conversion;
- :mod:`nbviz.widgets.guarded`: input widgets that check what the front end sends.

Importing this package is light; each widget's module loads on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"ImageGrid": "nbviz.widgets.image_grid", "ScatterWidget": "nbviz.widgets.scatter",
         "NetworkCanvas": "nbviz.widgets.network"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbviz.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = list(_LAZY)
