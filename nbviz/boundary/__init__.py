"""Computations behind the decision-boundary views: grid maps, unit maps, rendering."""

from .grid import GridSpec, PlaneMaps, compute_maps, hidden_units, plane_bounds
from .render import CLASS_COLOURS, render_map, unit_tiles

__all__ = ["CLASS_COLOURS", "GridSpec", "PlaneMaps", "compute_maps", "hidden_units", "plane_bounds",
           "render_map", "unit_tiles"]
