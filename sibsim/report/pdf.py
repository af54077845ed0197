"""A printable PDF report of a run (fpdf2): the question, the contract, headline results per party with their
uncertainty, key figures, the assumptions and their sources, and how to rerun it."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from .. import outputs
from ..plots import runs as plots
from .tables import headline_rows, input_rows, provenance

_PARTY = outputs.PARTIES  # party -> heading, as declared
_SHORT = {"sib": "SIB", "pbr": "Direct PbR", "fee": "Fee for service", "hybrid": "Hybrid"}
_MODEL = {"sib": "Social impact bond", "pbr": "Direct payment by results", "fee": "Fee for service",
          "hybrid": "Hybrid (part fee, part outcomes)"}


def _latin1(text: str) -> str:
    """The PDF's core fonts speak Latin-1: keep £, spell out what they cannot show."""
    text = str(text).replace("€", "EUR ").replace("–", "-").replace("—", "-").replace("’", "'").replace("±", "+/-")
    return text.encode("latin-1", "replace").decode("latin-1")


def fmt(x, unit: str, symbol: str) -> str:
    """A number for people: currency with separators, percentages, no scientific notation, no -0."""
    if x is None or not math.isfinite(float(x)):
        return "undefined"
    x = float(x)
    if unit == "currency":
        return plots.money(x, symbol)
    if unit in ("share", "rate", "probability"):
        v = 100 * x
        return f"{0.0 if abs(v) < 0.05 else v:.1f}%"
    if unit == "ratio":
        return f"{x:.2f}x"
    return f"{0.0 if abs(x) < 0.05 else x:,.1f}"


class _Doc:
    def __init__(self, title: str):
        from fpdf import FPDF

        pdf = FPDF(format="A4", unit="mm")
        pdf.set_auto_page_break(True, margin=15)
        pdf.set_title(_latin1(title))
        pdf.set_creator("sibsim")
        self.pdf = pdf

    def heading(self, text: str, size: int = 14):
        p = self.pdf
        p.set_font("helvetica", "B", size)
        p.multi_cell(0, size * 0.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        p.ln(1.5)

    def para(self, text: str, size: int = 10):
        p = self.pdf
        p.set_font("helvetica", "", size)
        p.multi_cell(0, size * 0.48, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        p.ln(1.5)

    def table(self, header, rows, widths, size: int = 8.5):
        p = self.pdf
        p.set_font("helvetica", "B", size)
        for h, w in zip(header, widths):
            p.cell(w, 5.5, _latin1(h), border="B", align="L" if w == widths[0] else "R")
        p.ln()
        p.set_font("helvetica", "", size)
        for r in rows:
            if p.will_page_break(5):
                p.add_page()
            for j, (c, w) in enumerate(zip(r, widths)):
                p.cell(w, 5, _latin1(c), align="L" if j == 0 else "R")
            p.ln()
        p.ln(3)

    def image(self, fig, width: float = 180):
        import io

        buf = io.BytesIO(plots.to_png(fig, dpi=150))
        self.pdf.image(buf, w=width)
        self.pdf.ln(2)


def write_pdf(run, path) -> Path:
    """Write the report to ``path`` (via a temporary file: a failure leaves nothing half-written)."""
    sc = run.scenario
    sym = plots.currency_symbol(run)
    doc = _Doc(f"sibsim report: {sc.name}")
    p = doc.pdf
    p.add_page()
    doc.heading(f"{sc.name}", 16)
    doc.para(f"A Monte Carlo appraisal by sibsim: {run.trials:,} trials, seed {run.seed}, amounts in {sc.currency}, "
             f"{sc.horizon_periods} {sc.period}s. The finance models compared are run on the same draws, so their "
             "differences are differences of structure, not of luck.", 9)
    doc.heading("The question", 12)
    doc.para("What will the outcomes cost the public purse, how much of that pays for outcomes that would have "
             "happened anyway, what return and risk do investors take, and how much cash risk does the provider "
             "carry under each way of paying for outcomes?")
    doc.heading("The contract", 12)
    outcomes = ", ".join(f"{o.name} ({_price(sc, o.name, sym)})" for o in sc.outcomes)
    doc.para(f"Outcomes paid for: {outcomes}. Finance model of the scenario: "
             f"{_MODEL.get(sc.finance.model, sc.finance.model)}; also evaluated: "
             f"{', '.join(_MODEL.get(m, m) for m in run.finance_models[1:]) or 'none'}.")
    doc.heading("Headline results: mean, and the 90% range P5 to P95", 12)
    models = run.finance_models
    by = {}
    for r in headline_rows(run):
        by.setdefault((r["party"], r["label"], r["unit"]), {})[r["model"]] = r
    rows = []
    for (party, label, unit), per in by.items():
        cells = [f"{_PARTY.get(party, party)}: {label}"]
        for m in models:
            r = per.get(m)
            cells.append(_cell(r, unit, sym, party))
        rows.append(cells)
    w = (190 - 58) / len(models)
    doc.table(["Party: output"] + [_SHORT.get(m, m) for m in models], rows, [58] + [w] * len(models),
              size=7 if len(models) > 2 else 8)
    probs = run.model(run.finance_models[0]).probabilities()
    lines = [f"P({k.replace('_', ' ')}) = {fmt(v['p'], 'probability', sym)} (+/- {fmt(v['se'], 'probability', sym)})"
             for k, v in sorted(probs.items()) if "@" not in k]
    if lines:
        doc.para("Probabilities under the scenario's own model: " + "; ".join(lines) + ".", 9)
    p.add_page()
    doc.heading("Key figures", 12)
    doc.image(plots.hist(run, "outcome_payments", figsize=(7.0, 3.0)))
    parties = [x for x in plots.active_parties(run) if x in ("commissioner", "investor", "provider")]
    if parties:
        doc.image(plots.fan_charts(run, parties, ncols=len(parties)))
    p.add_page()
    doc.heading("Assumptions and their sources", 12)
    doc.para(sc.description or "The scenario gives no description of its sources.", 9)
    prs = [r for r in input_rows(sc) if r["section"] == "parameters"]
    if prs:
        doc.table(["Uncertain input", "Prior"], [[r["name"], textwrap.shorten(str(r["value"]), 70)] for r in prs],
                  [70, 120])
    doc.heading("How to rerun it", 12)
    prov = provenance(run)
    doc.para("The scenario (by its hash), the seed, the number of trials and the sibsim version fix every number. "
             f"Rerun with: {prov['rerun']}")
    doc.para("; ".join(f"{k}: {v}" for k, v in prov.items() if k != "rerun"), 8)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        p.output(str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _cell(r, unit: str, sym: str, party: str) -> str:
    if r is None:
        return "no investor" if party == "investor" else "-"
    if not math.isfinite(float(r["mean"])):
        return "undefined"
    return f"{fmt(r['mean'], unit, sym)} ({fmt(r['p5'], unit, sym)} to {fmt(r['p95'], unit, sym)})"


def _price(sc, outcome: str, sym: str) -> str:
    v = sc.rate_card.prices.get(outcome)
    if v is None:
        return "measured"
    if isinstance(v, str):
        return f"price {v}"
    return plots.money(float(v), sym)
