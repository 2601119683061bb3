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
