"""In JupyterLab: run notebooks/03_augmentation.ipynb, toggle rotation, the preview changes."""

from __future__ import annotations

import time

import pytest

try:  # tests/browser as a package or as a plain directory on sys.path
    from .lab import open_notebook, run_all_cells, screenshot, wait_kernel_idle
except ImportError:
    from lab import open_notebook, run_all_cells, screenshot, wait_kernel_idle

pytestmark = pytest.mark.browser

CANVAS = ".nbviz-augment-preview canvas"
ROTATION = ".nbviz-augment-rotation input[type=checkbox]"


def _canvas_data(page) -> str:
    return page.locator(CANVAS).first.evaluate("c => c.width > 0 ? c.toDataURL() : ''")


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
    run_all_cells(page)
    wait_kernel_idle(page)
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
    message = page.locator(".nbviz-augment-message").first.inner_text()
    assert "refused" not in message
