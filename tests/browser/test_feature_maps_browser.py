"""In JupyterLab: switch the feature-map layer and move the channel slider; the canvases change.

Compares canvas.toDataURL() before and after each change (no reference pixels).
"""

from __future__ import annotations

import time

from lab import cell_errors, find_in_notebook, open_notebook, run_all_cells, screenshot


def data_url(canvas) -> str:
    return canvas.evaluate("c => c.toDataURL()")


def wait_changed(canvas, before: str, what: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        now = data_url(canvas)
        if now != before:
            return now
        assert time.monotonic() < deadline, f"the canvas did not change after {what}"
        time.sleep(0.2)


def test_layer_switch_and_channel_slider_redraw_the_canvases(page, lab):
    open_notebook(page, lab, "02_inside_the_model.ipynb")
    run_all_cells(page, timeout=420)
    assert not [e for e in cell_errors(page) if "Traceback" in e]

    view = find_in_notebook(page, ".nbviz-feature-maps")
    grid = view.locator(".nbviz-fm-grid canvas")
    channel = view.locator(".nbviz-fm-channel canvas")
    grid.wait_for(state="visible")
    deadline = time.monotonic() + 60  # a hang guard
    while grid.evaluate("c => c.width") == 0:  # first frame drawn
        assert time.monotonic() < deadline, "the feature-map grid was never drawn"
        time.sleep(0.2)
    assert view.locator(".nbviz-fm-input canvas").evaluate("c => c.width") > 0

    grid_before = data_url(grid)
    select = view.locator(".nbviz-fm-layer select")
    current = select.evaluate("s => s.selectedIndex")
    select.select_option(index=0 if current != 0 else 3)  # another layer (features.0.0 / features.0.2 ...)
    grid_after = wait_changed(grid, grid_before, "switching layer")
    assert grid_after != grid_before

    channel_now = data_url(channel)
    handle = view.locator(".nbviz-fm-channel-slider .noUi-handle")
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    wait_changed(channel, channel_now, "moving the channel slider")
    assert data_url(grid) != grid_after  # the outline of the selected tile moved
    screenshot(page, "feature_maps_switched")

    # a row clicked in the structure table selects that layer in the feature maps
    table = find_in_notebook(page, ".nbviz-structure-table select")
    index = table.evaluate("s => [...s.options].findIndex(o => o.text.trim().startsWith('features.2.1'))")
    assert index >= 0
    grid_before = data_url(grid)
    table.select_option(index=index)
    layer = page.locator(".nbviz-feature-maps").first.locator(".nbviz-fm-layer select")
    deadline = time.monotonic() + 60  # a hang guard
    while not layer.evaluate("s => s.options[s.selectedIndex].text").startswith("features.2.1"):
        assert time.monotonic() < deadline, "the feature maps did not follow the structure table"
        time.sleep(0.2)
    screenshot(page, "structure_selected")
    view = find_in_notebook(page, ".nbviz-feature-maps")
    wait_changed(view.locator(".nbviz-fm-grid canvas"), grid_before, "selecting a layer in the structure table")
