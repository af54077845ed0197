"""Figures of value of information (docs/voi.md): EVPI over willingness to pay, EVPPI bars, EVSI and ENBS
against study size, and the measurement design of a measured-outcome contract.

Each function takes the plain results of :mod:`sibsim.valueinfo` (a
:class:`~sibsim.valueinfo.VoiResult` or design rows) and returns a new
:class:`matplotlib.figure.Figure` made without pyplot. Error bars and bands are
two standard errors either side.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from ..decision import APPRAISAL
from ..errors import UsageError
from .base import COLOURS, money

_SYMBOL = {"GBP": "£", "USD": "$", "EUR": "€"}


def _symbol(res) -> str:
    code = res.meta.get("currency", "GBP") if hasattr(res, "meta") else "GBP"
    return _SYMBOL.get(code, f"{code} ")


def _money_axis(axis, symbol: str) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: money(v, symbol)))


def _numeric_wtp(res) -> list[str]:
    return [k for k in res.evpi if k != APPRAISAL]


def evpi_curve(res, *, population: bool = False, figsize=(6.0, 3.6)) -> Figure:
    """EVPI (per decision, or the population value) against willingness to pay, with a two-se band."""
    keys = _numeric_wtp(res)
    if not keys:
        raise UsageError("the EVPI curve needs numeric willingness-to-pay values; got only 'appraisal'")
    f = res.population.factor if population else 1.0
    x = np.array([float(k) for k in keys])
    y = np.array([res.evpi[k].value for k in keys]) * f
    se = np.array([res.evpi[k].se for k in keys]) * f
    sym = _symbol(res)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.fill_between(x, np.maximum(y - 2 * se, 0), y + 2 * se, color=COLOURS[0], alpha=0.2, label="± 2 se")
    ax.plot(x, y, "o-", color=COLOURS[0], label="population EVPI" if population else "EVPI")
    best = res.decision.best()
    for xi, yi, k in zip(x, y, keys):
        ax.annotate(best[k], (xi, yi), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    ax.set_xlabel(f"Willingness to pay per additional outcome ({sym.strip()})")
    ax.set_ylabel(("Population EVPI" if population else "EVPI per decision") + f" ({sym.strip()})")
    ax.set_title("Expected value of perfect information (labels: best option today)")
    _money_axis(ax.xaxis, sym)
    _money_axis(ax.yaxis, sym)
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    return fig


def evppi_bars(res, wtp: str, *, figsize=None) -> Figure:
    """EVPPI of each parameter or group at one willingness to pay (horizontal bars, ± 2 se), EVPI as a line."""
    if wtp not in res.evpi:
        raise UsageError(f"willingness to pay {wtp!r} was not computed; computed: {', '.join(res.evpi)}")
    names = sorted(res.evppi, key=lambda n: res.evppi[n][wtp].value)
    vals = np.array([res.evppi[n][wtp].value for n in names])
    se = np.array([res.evppi[n][wtp].se for n in names])
    sym = _symbol(res)
    fig = Figure(figsize=figsize or (6.0, 1.2 + 0.32 * max(len(names), 1)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(names, vals, xerr=2 * se, color=COLOURS[1], ecolor="#444444", capsize=2, label="EVPPI")
    ax.axvline(res.evpi[wtp].value, color=COLOURS[0], ls="--", label="EVPI")
    ax.set_xlabel(f"EVPPI per decision ({sym.strip()})")
    ax.set_title(f"Partial perfect information at willingness to pay {wtp}")
    _money_axis(ax.xaxis, sym)
    ax.set_xlim(left=0)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


def evsi_curve(res, wtp: str, *, figsize=(6.0, 3.6)) -> Figure:
    """EVSI (± 2 se), study cost and ENBS against the study design's size; the optimal size marked."""
    if not res.evsi:
        raise UsageError("no EVSI in this result: compute it with evsi='FIELD=START:STOP:STEP'")
    if wtp not in res.evsi:
        raise UsageError(f"willingness to pay {wtp!r} was not computed; computed: {', '.join(res.evsi)}")
    c = res.evsi[wtp]
    x = np.array(c.sizes, dtype=float)
    ev, se = np.array(c.evsi), np.array(c.evsi_se)
    sym = _symbol(res)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.fill_between(x, ev - 2 * se, ev + 2 * se, color=COLOURS[0], alpha=0.2)
    ax.plot(x, ev, "o-", color=COLOURS[0], label="EVSI")
    ax.plot(x, c.cost, "s--", color=COLOURS[1], label="study cost")
    ax.plot(x, c.enbs, "^-", color=COLOURS[2], label="ENBS = EVSI - cost")
    ax.axhline(0, color="#999999", lw=0.8)
    if c.optimal is not None:
        j = c.sizes.index(c.optimal)
        ax.plot([x[j]], [c.enbs[j]], "*", ms=14, color=COLOURS[4], label=f"optimal {c.field} = {c.optimal:,}")
    ax.set_xlabel(c.field.replace("_", " "))
    ax.set_ylabel(f"Value ({sym.strip()})")
    ax.set_title(f"Is a bigger study worth it? (willingness to pay {wtp})")
    _money_axis(ax.yaxis, sym)
    ax.legend(frameon=False, fontsize=8)
    return fig


PANELS = (("p_pay_no_effect", "P(pay when no effect)", "share"),
          ("p_no_pay_at_target", "P(no pay at target)", "share"),
          ("expected_overpayment", "Expected overpayment", "money"),
          ("evaluation_cost", "Expected evaluation cost", "money"))


def design_chart(rows, *, limits=None, recommended=None, size_label: str = "comparison size",
                 symbol: str = "£", figsize=(9.0, 6.0)) -> Figure:
    """Four panels against comparison size, one line per trigger scale; risk ``limits`` dashed.

    rows: :class:`sibsim.valueinfo.design.DesignRow` list; limits: ``(max_pay_no_effect,
    max_no_pay_at_target)``; recommended: the row to mark.
    """
    if not rows:
        raise UsageError("no designs to chart")
    scales = sorted({r.trigger_scale for r in rows})
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    for ax, (field, title, kind) in zip(axes, PANELS):
        for i, k in enumerate(scales):
            rs = sorted((r for r in rows if r.trigger_scale == k), key=lambda r: r.size)
            ax.plot([r.size for r in rs], [getattr(r, field) for r in rs], "o-", color=COLOURS[i % len(COLOURS)],
                    label=f"trigger × {k:g}")
        if recommended is not None:
            ax.plot([recommended.size], [getattr(recommended, field)], "*", ms=14, color=COLOURS[4],
                    label="recommended")
        if limits is not None and field in ("p_pay_no_effect", "p_no_pay_at_target"):
            ax.axhline(limits[0 if field == "p_pay_no_effect" else 1], color="#aa0000", ls="--", lw=1,
                       label="risk limit")
        ax.set_title(title)
        ax.set_xlabel(size_label)
        if kind == "share":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        else:
            _money_axis(ax.yaxis, symbol)
    axes[0].legend(frameon=False, fontsize=7)
    return fig
