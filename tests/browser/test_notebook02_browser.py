"""In JupyterLab: notebook 02's vanishing-gradient demo draws its red (flagged) bars.

The test runs a trimmed copy of the notebook (its setup cell and the vanishing-gradient cell,
taken from the notebook itself, so the test follows the notebook) and checks the SVG that
bqplot drew: the flagged bars are red, with finite coordinates and a visible height.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from lab import (
    assert_charts_ok,
    cell_errors,
    find_in_notebook,
    open_notebook,
    run_all_cells,
    screenshot,
    write_notebook,
)

NOTEBOOK = "02_inside_the_model.ipynb"
RED = "rgb(211, 47, 47)"  # BarChart's flagged colour, #d32f2f

# every bar of the RMS chart: its fill, attributes and drawn box
_BARS_JS = """
fig => [...fig.querySelectorAll('rect.bar')].map(r => {
  const box = r.getBBox();
  return {fill: getComputedStyle(r).fill,
          attrs: ['x', 'y', 'width', 'height'].map(a => r.getAttribute(a)),
          width: box.width, height: box.height};
})
"""


def _finite(text: str | None) -> bool:
    try:
        return math.isfinite(float(text))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def demo_cells(root: str) -> list[str]:
    """The notebook's first code cell (data) and its vanishing-gradient cell."""
    cells = json.loads((Path(root) / NOTEBOOK).read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    demo = [c for c in code if "deep_grads" in c and "Sigmoid" in c]
    assert demo, f"{NOTEBOOK} has no vanishing-gradient cell any more"
    return [code[0], demo[0]]


@pytest.mark.parametrize("page", [{"width": 1280, "height": 1000}], indirect=True)
def test_vanishing_gradient_demo_draws_red_bars(page, lab):
    open_notebook(page, lab, write_notebook(lab, "02_vanishing.ipynb", demo_cells(lab.root)))
    run_all_cells(page, timeout=420)
    assert not [e for e in cell_errors(page) if "Traceback" in e], cell_errors(page)
    view = find_in_notebook(page, ".nbviz-gradients")
    assert "vanishing" in view.locator(".nbviz-grad-flags").inner_text(timeout=60_000)
    figures = assert_charts_ok(view, must_draw=("gradient RMS",), timeout=60)
    rms = next(f for f in figures if f["title"].startswith("gradient RMS"))
    assert not rms["problems"], rms
    figure = view.locator(".bqplot.figure", has_text="gradient RMS").first
    bars = figure.evaluate(_BARS_JS)
    red = [b for b in bars if b["fill"] == RED]
    assert len(bars) >= 13 and red, bars  # 13 linear layers; the first ones flagged
    for bar in red:
        assert all(_finite(a) for a in bar["attrs"]), bar
        assert bar["width"] > 2 and bar["height"] > 2, bar
    figure.evaluate("f => f.scrollIntoView({block: 'center'})")
    screenshot(page, "views/notebook02_vanishing")
