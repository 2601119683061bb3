"""In JupyterLab: run notebooks/04_embeddings.ipynb, hover a point (tooltip with its image),
box-select points and check the selection reached Python (DOM written by the kernel, and a cell
that prints explorer.selected)."""

from __future__ import annotations

import re

import pytest
from lab import open_notebook, run_all_cells, screenshot, wait_for, wait_kernel_idle

pytestmark = pytest.mark.browser

SCATTER = ".nbviz-scatter"


def _points(scatter) -> int:
    return scatter.evaluate("el => el.nbvizScatter ? el.nbvizScatter.state.n : 0")


def test_hover_shows_thumbnail_and_box_selection_reaches_python(page, lab) -> None:
    open_notebook(page, lab, "04_embeddings.ipynb")
    run_all_cells(page)
    wait_kernel_idle(page)
    scatter = page.locator(SCATTER).first
    scatter.wait_for(state="visible", timeout=60_000)
    wait_for(lambda: _points(scatter) > 0, 60, "the scatter to receive its points")
    plot = scatter.locator(".nbviz-plot")
    plot.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)  # let a running position animation settle
    box = plot.bounding_box()
    assert box is not None

    # hover: the tooltip with the sample's thumbnail appears, computed in the browser
    tooltip = scatter.locator(".nbviz-tooltip")
    shown = False
    for index in (0, 1, 2, 3, 5, 8, 13):
        sx, sy = scatter.evaluate(f"el => el.nbvizScatter.screenOf({index})")
        page.mouse.move(box["x"] + sx, box["y"] + sy)
        try:
            tooltip.wait_for(state="visible", timeout=2000)
            shown = True
            break
        except Exception:  # noqa: BLE001 - try the next point (the plot may be scrolled)
            continue
    if not shown:
        screenshot(page, "embeddings_no_tooltip")
    assert shown, "hovering points never showed a tooltip"
    thumb = tooltip.locator("canvas.nbviz-thumb")
    assert thumb.is_visible()
    assert thumb.evaluate("c => c.width") == 28
    assert "label:" in tooltip.inner_text()

    # box selection (shift-drag over the middle of the plot)
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.keyboard.down("Shift")
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.8, steps=8)
    page.mouse.up()
    page.keyboard.up("Shift")
    count = int(scatter.locator(".nbviz-count").get_attribute("data-count") or 0)
    assert count > 0, "the box selected no points"
    # the gallery title is written by the kernel: it shows the count Python received
    title = page.locator(f".nbviz-selected-count[data-count='{count}']").first
    try:
        title.wait_for(state="visible", timeout=30_000)
    except Exception:
        screenshot(page, "embeddings_selection_not_in_python")
        raise

    # and a cell run after the selection prints what explorer.selected holds
    cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")
    last = cells.nth(cells.count() - 1)  # fixed index: Shift+Enter adds a cell below
    last.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    wait_kernel_idle(page)
    output = wait_for(lambda: re.search(r"SELECTED (\d+)", last.locator(".jp-OutputArea").inner_text()),
                       60, "the SELECTED line")
    assert int(output.group(1)) == count
