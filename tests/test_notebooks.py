"""Every notebook in notebooks/ runs top to bottom without an error (nbclient), and the
tutorials that train state the validation accuracy they reached, which must show real learning.

The notebooks run with ``NBVIZ_FAST=1``: each reads it in its first code cell and trains a
shorter schedule (said in the notebook's text). The thresholds are far above chance (10% for
the ten digit and shape classes), so a run that does not learn fails.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

# notebook -> {what was trained: lowest validation accuracy in percent that counts as learned}
MIN_ACCURACY: dict[str, dict[str, float]] = {
    "01_quickstart.ipynb": {"digits": 85.0},
    "02_inside_the_model.ipynb": {"digits": 85.0},
    "03_augmentation.ipynb": {"shapes": 50.0},
    "04_embeddings.ipynb": {"digits": 85.0, "shapes": 50.0},
}
# The line each of them prints, e.g. "digits: validation accuracy 97.2% after 3 epochs".
ACCURACY_LINE = re.compile(r"^(\w+): validation accuracy (\d+(?:\.\d+)?)%", re.MULTILINE)

pytestmark = pytest.mark.notebook


def test_there_are_notebooks():
    assert any(p.name == "01_quickstart.ipynb" for p in NOTEBOOKS)
    assert set(MIN_ACCURACY) <= {p.name for p in NOTEBOOKS}


def stated_accuracies(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """{label: percent} from the 'LABEL: validation accuracy P%' lines the cells printed."""
    text = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    return {label: float(value) for label, value in ACCURACY_LINE.findall(text)}


def test_stated_accuracy_is_parsed():
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        "paused at step 5\ndigits: validation accuracy 97.2% after 3 epochs (135 steps, 31 s)\n"
        "shapes: validation accuracy 8.5% after 1 epochs\n"))]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    assert stated_accuracies(notebook) == {"digits": 97.2, "shapes": 8.5}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", \
        "without kernelspec metadata JupyterLab opens a 'Select Kernel' dialog"
    monkeypatch.setenv("NBVIZ_FAST", "1")  # the kernel inherits it
    assert os.environ["NBVIZ_FAST"] == "1"
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    expected = MIN_ACCURACY.get(path.name, {})
    stated = stated_accuracies(notebook)
    for label, minimum in expected.items():
        assert label in stated, f"{path.name} printed no '{label}: validation accuracy ...%' line"
        assert stated[label] >= minimum, \
            f"{path.name}: {label} reached only {stated[label]}% (a model that learned gets >= {minimum}%)"
