"""Every notebook in notebooks/ executes from top to bottom (nbclient, the venv's python3 kernel).

Notebooks read ``SIBSIM_NOTEBOOK_TRIALS`` (trials per simulation) and
``SIBSIM_NOTEBOOK_SAMPLES`` (design sizes) to keep the run short here; the
values below are the smallest that still exercise every cell.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell
ENV = {"SIBSIM_NOTEBOOK_TRIALS": "1000", "SIBSIM_NOTEBOOK_SAMPLES": "8"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, monkeypatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)  # the kernel inherits this process's environment
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors

