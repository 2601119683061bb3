"""Shared by the notebook writers: cells in, a notebook with kernelspec metadata out."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_notebook

NOTEBOOKS = Path(__file__).resolve().parents[1]
# Without kernelspec metadata JupyterLab opens a 'Select Kernel' dialog.
METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}


def write_notebook(cells: list, filename: str) -> Path:
    """Validate and write ``cells`` as notebooks/``filename``; return its path."""
    notebook = new_notebook(cells=cells, metadata=METADATA)
    nbformat.validate(notebook)
    path = NOTEBOOKS / filename
    nbformat.write(notebook, path)
    print("wrote", path)
    return path


# Said in every notebook that reads NBVIZ_FAST, so a reader knows why the test run is shorter.
FAST_NOTE = ("*The test suite runs this notebook with `NBVIZ_FAST=1`, which trains fewer epochs; "
             "run as it is, it trains long enough to watch.*")
