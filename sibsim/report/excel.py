"""The run as an Excel workbook (XlsxWriter): summary by model and party, cash flows, probabilities, inputs,
provenance. Numbers are written as numbers with cell formats (currency, percentages), never as text."""

from __future__ import annotations

import math
from pathlib import Path

from .tables import cashflow_table, input_rows, probability_rows, provenance, summary_rows

SHEETS = ("Summary", "Cash flows", "Probabilities", "Inputs", "Provenance")
_SYMBOL = {"GBP": "£", "USD": "$", "EUR": "€"}


def _num(x):
    """A cell value: None for undefined (NaN, inf), a float otherwise."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def write_xlsx(run, path) -> Path:
    """Write the workbook to ``path`` (via a temporary file, so a failure leaves nothing half-written)."""
    import xlsxwriter

    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    sym = _SYMBOL.get(run.scenario.currency, run.scenario.currency + " ")
    try:
        wb = xlsxwriter.Workbook(str(tmp), {"nan_inf_to_errors": False})
        bold = wb.add_format({"bold": True})
        head = wb.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "top"})
        fmts = {
            "currency": wb.add_format({"num_format": f'"{sym}"#,##0;-"{sym}"#,##0'}),
            "share": wb.add_format({"num_format": "0.0%"}),
            "rate": wb.add_format({"num_format": "0.0%"}),
            "probability": wb.add_format({"num_format": "0.0%"}),
            "ratio": wb.add_format({"num_format": "0.00"}),
            "count": wb.add_format({"num_format": "#,##0.0"}),
            "number": wb.add_format({"num_format": "#,##0.00"}),
        }
        _summary(wb, run, head, fmts)
        _cashflows(wb, run, head, fmts["currency"])
        _probabilities(wb, run, head, fmts["probability"])
        _inputs(wb, run, head)
        _provenance(wb, run, bold)
        wb.close()
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _table(ws, head, columns, widths):
    for j, (c, w) in enumerate(zip(columns, widths)):
        ws.write(0, j, c, head)
        ws.set_column(j, j, w)
    ws.freeze_panes(1, 0)


def _summary(wb, run, head, fmts):
    ws = wb.add_worksheet("Summary")
    cols = ["Finance model", "Party", "Output", "Unit", "Mean", "± MC s.e.", "P5", "P50", "P95", "Undefined trials",
            "Name"]
    _table(ws, head, cols, [12, 14, 38, 10, 14, 12, 14, 14, 14, 10, 34])
    rows = summary_rows(run)
    for i, r in enumerate(rows, start=1):
        f = fmts.get(r["unit"], fmts["number"])
        ws.write_row(i, 0, [r["model"], r["party"].replace("_", " "), r["label"], r["unit"]])
        for j, k in enumerate(("mean", "mcse", "p5", "p50", "p95"), start=4):
            ws.write(i, j, _num(r[k]), f)
        ws.write(i, 9, int(r["undefined"]))
        ws.write(i, 10, r["metric"])
    ws.autofilter(0, 0, len(rows), len(cols) - 1)


def _cashflows(wb, run, head, money):
    ws = wb.add_worksheet("Cash flows")
    df = cashflow_table(run)
    period = {"month": "Month", "quarter": "Quarter", "year": "Year"}[run.scenario.period]
    _table(ws, head, ["Party", f"{period} (end)", "Mean net cash", "P5", "P50", "P95"], [18, 12, 16, 14, 14, 14])
    for i, r in enumerate(df.itertuples(index=False), start=1):
        ws.write(i, 0, r.party_label)
        ws.write(i, 1, int(r.period) + 1)
        for j, v in enumerate((r.mean, r.p5, r.p50, r.p95), start=2):
            ws.write(i, j, _num(v), money)


def _probabilities(wb, run, head, pct):
    ws = wb.add_worksheet("Probabilities")
    _table(ws, head, ["Finance model", "Event", "Probability", "± s.e.", "Name"], [12, 40, 12, 10, 36])
    for i, r in enumerate(probability_rows(run), start=1):
        ws.write_row(i, 0, [r["model"], r["label"]])
        ws.write(i, 2, _num(r["p"]), pct)
        ws.write(i, 3, _num(r["se"]), pct)
        ws.write(i, 4, r["indicator"])


def _inputs(wb, run, head):
    ws = wb.add_worksheet("Inputs")
    _table(ws, head, ["Section", "Input", "Value or prior", "Prior mean"], [14, 44, 60, 14])
    rows = input_rows(run.scenario)
    for i, r in enumerate(rows, start=1):
        v = r["value"]
        ws.write_row(i, 0, [r["section"], r["name"]])
        if isinstance(v, bool) or v is None:
            ws.write(i, 2, "" if v is None else str(v).lower())
        elif isinstance(v, (int, float)):
            ws.write_number(i, 2, v) if math.isfinite(v) else ws.write(i, 2, str(v))
        else:
            ws.write_string(i, 2, str(v))
        if r["mean"] is not None and math.isfinite(r["mean"]):
            ws.write_number(i, 3, r["mean"])
    n = len(rows) + 2
    ws.write(n, 0, "Sources and assumptions", head)
    ws.merge_range(n + 1, 0, n + 1, 3, run.scenario.description or "(the scenario gives no description)",
                   wb.add_format({"text_wrap": True, "valign": "top"}))
    ws.set_row(n + 1, min(400, 15 * (1 + len(run.scenario.description or "") // 90)))


def _provenance(wb, run, bold):
    ws = wb.add_worksheet("Provenance")
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 80)
    for i, (k, v) in enumerate(provenance(run).items()):
        ws.write(i, 0, k, bold)
        ws.write(i, 1, v)
