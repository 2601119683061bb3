"""In JupyterLab: run notebooks/03_augmentation.ipynb, toggle rotation, the preview changes."""

from __future__ import annotations

import pytest
from lab import cell_errors, open_notebook, run_all_cells, screenshot, wait_for, wait_kernel_idle

pytestmark = pytest.mark.browser

CANVAS = ".nbviz-augment-preview canvas"
ROTATION = ".nbviz-augment-rotation input[type=checkbox]"


def _canvas_data(page) -> str:
    return page.locator(CANVAS).first.evaluate("c => c.width > 0 ? c.toDataURL() : ''")


def test_toggling_rotation_changes_the_preview(page, lab) -> None:
    open_notebook(page, lab, "03_augmentation.ipynb")
    run_all_cells(page, timeout=420)
    wait_kernel_idle(page)
    assert not [e for e in cell_errors(page) if "Traceback" in e]
    page.locator(CANVAS).first.wait_for(state="visible", timeout=60_000)
    before = wait_for(lambda: _canvas_data(page), 60, "the preview to be drawn")
    checkbox = page.locator(ROTATION).first
    was_checked = checkbox.is_checked()
    checkbox.click()
    try:
        after = wait_for(lambda: (d := _canvas_data(page)) != before and d, 60,
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
