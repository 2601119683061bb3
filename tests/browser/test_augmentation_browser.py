"""In JupyterLab: run notebooks/03_augmentation.ipynb, toggle rotation, the preview changes."""

from __future__ import annotations

import re
import time

import pytest
from lab import cell_errors, open_notebook, screenshot, wait_all_cells_done, wait_kernel_idle
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser

CANVAS = ".nbviz-augment-preview canvas"
ROTATION = ".nbviz-augment-rotation input[type=checkbox]"


def _canvas_data(page) -> str:
    return page.locator(CANVAS).first.evaluate("c => c.width > 0 ? c.toDataURL() : ''")


def _run_all(page, timeout: float) -> None:
    """Run > Run All Cells, accepting JupyterLab's "Select Kernel" dialog if it shows."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.first.wait_for(state="visible", timeout=10_000)
    except PlaywrightTimeout:
        pass
    else:
        dialog.get_by_role("button", name="Select").click()
    wait_all_cells_done(page, timeout)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_toggling_rotation_changes_the_preview(page, lab) -> None:
    open_notebook(page, lab, "03_augmentation.ipynb")
    _run_all(page, timeout=420)
    wait_kernel_idle(page)
    assert not [e for e in cell_errors(page) if "Traceback" in e]
    page.locator(CANVAS).first.wait_for(state="visible", timeout=60_000)
    before = _wait_for(lambda: _canvas_data(page), 30, "the preview to be drawn")
    checkbox = page.locator(ROTATION).first
    was_checked = checkbox.is_checked()
    checkbox.click()
    try:
        after = _wait_for(lambda: (d := _canvas_data(page)) != before and d, 30,
                          "the preview to change after toggling rotation")
    except AssertionError:
        screenshot(page, "augmentation_preview_unchanged")
        raise
    assert after != before
    assert checkbox.is_checked() != was_checked
    page.locator(CANVAS).first.scroll_into_view_if_needed()
    screenshot(page, "augmentation_after_toggle")
    message = page.locator(".nbviz-augment-message").first.inner_text()
    assert "refused" not in message
