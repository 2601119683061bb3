"""Drive JupyterLab in headless Chromium: open a notebook, run it, wait, take screenshots."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

OUTPUT_DIR = Path(os.environ.get("NBVIZ_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output"))


def open_notebook(page: Page, lab, name: str) -> None:
    """Open ``name`` (relative to the served folder) and wait for its kernel to be idle."""
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}&reset")
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=60_000)
    accept_kernel_dialog(page)
    wait_kernel_idle(page, timeout=120)


def accept_kernel_dialog(page: Page, wait_s: float = 3.0) -> None:
    """Answer JupyterLab's "Select Kernel" dialog with its default (the notebook's kernel)."""
    dialog = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
    try:
        dialog.wait_for(state="visible", timeout=wait_s * 1000)
    except PlaywrightTimeout:
        return  # no dialog: nothing to answer
    dialog.get_by_role("button", name="Select").click()
    dialog.wait_for(state="hidden")


def wait_kernel_idle(page: Page, timeout: float = 120) -> None:
    """Wait until the kernel has started and is idle (status bar and toolbar agree)."""
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=timeout * 1000)
    indicator = page.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator")
    expect(indicator).to_have_attribute("data-status", "idle", timeout=timeout * 1000)


def run_all_cells(page: Page, timeout: float = 300) -> None:
    """Run > Run All Cells, then wait until no cell is queued or running."""
    prompts = page.locator(".jp-NotebookPanel:visible .jp-CodeCell .jp-InputPrompt")
    for _ in range(3):  # a click while the kernel is still connecting can be lost: retry
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        accept_kernel_dialog(page, wait_s=1.0)
        deadline = time.monotonic() + 60  # a loaded machine starts cells late; a retry would queue them twice
        while time.monotonic() < deadline:
            if any(re.search(r"\[(\*|\d+)\]", t) for t in prompts.all_inner_texts()):
                wait_all_cells_done(page, timeout)
                return
            time.sleep(0.5)
    raise TimeoutError("Run All Cells did not start any cell")


def wait_all_cells_done(page: Page, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    prompts = page.locator(".jp-NotebookPanel:visible .jp-CodeCell .jp-InputPrompt")
    while time.monotonic() < deadline:
        texts = prompts.all_inner_texts()
        if texts and all(re.search(r"\[\d+\]", t) for t in texts):
            wait_kernel_idle(page, timeout=max(1.0, deadline - time.monotonic()))
            return
        time.sleep(0.5)
    raise TimeoutError(f"cells still running after {timeout} s: {prompts.all_inner_texts()}")


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def find_in_notebook(page: Page, selector: str):
    """The first element matching ``selector`` in the notebook, scrolled into view."""
    target = page.locator(selector).first
    target.wait_for(state="attached", timeout=60_000)
    target.scroll_into_view_if_needed()
    return target


def cell_errors(page: Page) -> list[str]:
    """Error outputs shown in the notebook (tracebacks)."""
    return page.locator(".jp-NotebookPanel:visible .jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
                        ", .jp-NotebookPanel:visible .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
                        ).all_inner_texts()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-output/ and return its path."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def write_notebook(lab, name: str, cells: list[str]) -> str:
    """Write a notebook of code ``cells`` into the lab root (kernel: python3) and return its name."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(Path(lab.root) / name))
    return name


# What every bqplot figure under a root drew: per mark, its kind and elements, any non-finite
# coordinate, and for lines the number of points and their horizontal extent in pixels.
_CHART_REPORT_JS = """
root => {
  const ATTRS = ['d', 'transform', 'x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'width', 'height', 'points'];
  const bad = v => v != null && /NaN|Infinity|undefined/.test(v);
  const figures = [];
  for (const fig of root.querySelectorAll('.bqplot.figure')) {
    const svg = fig;  // bqplot draws into two svgs (background and marks): look at both
    const box = fig.getBoundingClientRect();
    const title = (svg.querySelector('.mainheading') || {}).textContent || '';
    const problems = [];
    for (const el of svg.querySelectorAll('*')) {
      for (const a of ATTRS) {
        const v = el.getAttribute(a);
        if (bad(v)) problems.push(`<${el.tagName} class="${el.getAttribute('class') || ''}"> ${a}="${v.slice(0, 80)}"`);
      }
    }
    const ticks = [...svg.querySelectorAll('.axis .tick text')].map(t => t.textContent);
    const marks = [];
    const kinds = {
      line: 'path.curve, path.line', bar: 'rect.bar', dot: 'path.dot, .dot',
      heat: 'rect.heatmapcell', node: 'g.node', link: 'path.link'};
    for (const [kind, sel] of Object.entries(kinds)) {
      const els = [...svg.querySelectorAll(sel)].filter(e => !e.closest('.legend'));
      if (!els.length) continue;
      const m = {kind, count: els.length, drawn: 0, lines: []};
      for (const el of els) {
        if (kind === 'line' && el.tagName === 'path') {
          const d = el.getAttribute('d') || '';
          const nums = (d.match(/-?[0-9.]+(e-?[0-9]+)?/g) || []).map(Number);
          const xs = nums.filter((_, i) => i % 2 === 0);
          if (xs.length) { m.drawn += 1; m.lines.push({points: xs.length, span: Math.max(...xs) - Math.min(...xs)}); }
        } else {
          const r = el.getBoundingClientRect();
          if (r.width > 0 || r.height > 0) m.drawn += 1;
        }
      }
      marks.push(m);
    }
    figures.push({title, marks, problems, ticks, visible: box.width > 0 && box.height > 0,
                  width: box.width, height: box.height});
  }
  return figures;
}
"""


def chart_report(scope) -> list[dict]:
    """What each bqplot figure inside ``scope`` (a Locator) drew; see :func:`assert_charts_ok`."""
    return scope.evaluate(_CHART_REPORT_JS)


def chart_problems(figures: list[dict], must_draw: tuple[str, ...] = ()) -> list[str]:
    """Non-finite coordinates, lines of >= 2 points that span <= 1 px, and figures named in
    ``must_draw`` (title substrings) that drew no mark element."""
    problems = []
    for fig in figures:
        title = fig["title"] or "(untitled)"
        problems += [f"{title}: {p}" for p in fig["problems"]]
        for mark in fig["marks"]:
            for line in mark["lines"]:
                if line["points"] >= 2 and line["span"] <= 1:
                    problems.append(f"{title}: a line of {line['points']} points spans {line['span']:.2f} px")
        if any(name in title for name in must_draw) and not any(m["drawn"] for m in fig["marks"]):
            problems.append(f"{title}: drew nothing ({fig['marks']})")
    return problems


def assert_charts_ok(scope, must_draw: tuple[str, ...] = (), timeout: float = 60) -> list[dict]:
    """Wait until every bqplot figure in ``scope`` drew finite coordinates (and those named
    in ``must_draw`` drew something), then return the report; fail with the problems."""
    deadline = time.monotonic() + timeout
    while True:
        figures = chart_report(scope)
        problems = chart_problems(figures, must_draw)
        if not problems and figures:
            return figures
        if time.monotonic() > deadline:
            raise AssertionError("charts drawn wrong:\n  " + "\n  ".join(problems or ["no bqplot figure"]))
        time.sleep(0.5)
