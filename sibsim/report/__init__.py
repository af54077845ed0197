"""Results people can take into a business case: an Excel workbook and a PDF report of a run.

The tables behind both (:mod:`.tables`) come from a :class:`~sibsim.run.Run`:
its summaries per finance model and party, the per-period cash of each party
(mean and percentiles over the trials whose paths are kept), the scenario's
inputs and the run's provenance. A run saved as JSON or in the evidence base
is regenerated exactly from its scenario, seed and trials (:func:`load_run`)
before a report is written, so a report always shows numbers the engine
computed, never numbers copied from a file.
"""

from __future__ import annotations

from .excel import write_xlsx
from .load import load_run
from .pdf import write_pdf

__all__ = ["load_run", "pdf_bytes", "write_pdf", "write_xlsx", "xlsx_bytes"]


def _bytes(write, run, suffix: str) -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        return write(run, Path(d) / f"report{suffix}").read_bytes()


def xlsx_bytes(run) -> bytes:
    """The Excel workbook of :func:`write_xlsx`, as bytes (for downloads)."""
    return _bytes(write_xlsx, run, ".xlsx")


def pdf_bytes(run) -> bytes:
    """The PDF report of :func:`write_pdf`, as bytes (for downloads)."""
    return _bytes(write_pdf, run, ".pdf")
