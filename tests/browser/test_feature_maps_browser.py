"""In JupyterLab: switch the feature-map layer and move the channel slider; the canvases change.

Compares canvas.toDataURL() before and after each change (no reference pixels).
"""

from __future__ import annotations

import re
import time

from lab import cell_errors, open_notebook, screenshot, wait_kernel_idle


def data_url(canvas) -> str:
    return canvas.evaluate("c => c.toDataURL()")


def accept_kernel_dialog(page) -> None:
    """JupyterLab sometimes asks which kernel to start even with kernelspec metadata."""
    dialog = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
    try:
        dialog.wait_for(state="visible", timeout=3000)
    except Exception:  # noqa: BLE001 - no dialog: nothing to do
        return
    dialog.get_by_role("button", name="Select").click()
    wait_kernel_idle(page)


def run_all(page) -> None:
    accept_kernel_dialog(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    accept_kernel_dialog(page)
    wait_cells_done(page, timeout=420)


def wait_cells_done(page, timeout: float) -> None:
    """Every code cell has run. JupyterLab renders only the cells near the viewport, so
    prompts of the others read ''; a fresh kernel numbers cells 1..n in order."""
    prompts = page.locator(".jp-NotebookPanel:visible .jp-CodeCell .jp-InputPrompt")
    deadline = time.monotonic() + timeout
    while True:
        texts = prompts.all_inner_texts()
        numbers = [int(n) for n in re.findall(r"\[(\d+)\]", " ".join(texts))]
        if texts and numbers and max(numbers) >= len(texts) and not any("*" in t for t in texts):
            wait_kernel_idle(page, timeout=max(1.0, deadline - time.monotonic()))
            return
        assert time.monotonic() < deadline, f"cells still running after {timeout} s: {texts}"
        time.sleep(0.5)


def find_in_notebook(page, selector: str):
    """The first element matching ``selector``, scrolling the notebook until it is rendered."""
    target = page.locator(selector).first
    scroller = page.locator(".jp-NotebookPanel:visible .jp-WindowedPanel-outer").first
    scroller.evaluate("e => { e.scrollTop = 0; }")
    for _ in range(100):
        if target.count() and target.is_visible():
            target.scroll_into_view_if_needed()
            return target
        scroller.evaluate("e => e.scrollBy(0, 300)")
        time.sleep(0.3)
    raise AssertionError(f"{selector} never appeared in the notebook")


def wait_changed(canvas, before: str, what: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        now = data_url(canvas)
        if now != before:
            return now
        assert time.monotonic() < deadline, f"the canvas did not change after {what}"
        time.sleep(0.2)


def test_layer_switch_and_channel_slider_redraw_the_canvases(page, lab):
    open_notebook(page, lab, "02_inside_the_model.ipynb")
    run_all(page)
    assert not [e for e in cell_errors(page) if "Traceback" in e]

    view = find_in_notebook(page, ".nbviz-feature-maps")
    grid = view.locator(".nbviz-fm-grid canvas")
    channel = view.locator(".nbviz-fm-channel canvas")
    grid.wait_for(state="visible")
    deadline = time.monotonic() + 30
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
    deadline = time.monotonic() + 30
    while not layer.evaluate("s => s.options[s.selectedIndex].text").startswith("features.2.1"):
        assert time.monotonic() < deadline, "the feature maps did not follow the structure table"
        time.sleep(0.2)
    screenshot(page, "structure_selected")
    view = find_in_notebook(page, ".nbviz-feature-maps")
    wait_changed(view.locator(".nbviz-fm-grid canvas"), grid_before, "selecting a layer in the structure table")
