"""Figures for small contracts and small providers: readiness, contract size and portfolios (issue 13).

Each function returns a new :class:`matplotlib.figure.Figure` built without
pyplot, from the result objects of :mod:`sibsim.readiness`
(:class:`~sibsim.readiness.Readiness`), :mod:`sibsim.scale`
(:class:`~sibsim.scale.SizeSweep`) and :mod:`sibsim.portfolio`
(:class:`~sibsim.portfolio.PortfolioRun`).
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .base import COLOURS, _SYMBOL, money

from ..readiness import MODEL_LABELS


def _money_axis(axis, symbol: str) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: money(v, symbol)))


def _title(ax, head: str, name: str) -> None:
    ax.set_title(f"{head}\n{textwrap.shorten(name, 90, placeholder='…')}", fontsize=9)


def _symbol(currency: str) -> str:
    return _SYMBOL.get(currency, f"{currency} ")


def readiness_reserves(r) -> Figure:
    """Reserves each finance model needs for the target risk (± Monte Carlo error) beside the provider's own,
    and the P95 peak working capital."""
    sym = _symbol(r.currency)
    fig = Figure(figsize=(7.5, 4))
    ax = fig.add_subplot()
    labels = [MODEL_LABELS.get(m.model, m.model) for m in r.models]
    x = np.arange(len(labels))
    need = [m.reserves_needed for m in r.models]
    err = [m.reserves_mcse for m in r.models]
    ax.bar(x - 0.2, need, 0.4, yerr=err, color=COLOURS[0], capsize=3,
           label=f"Reserves needed for P(insolvency) ≤ {100 * r.risk:g}%")
    ax.bar(x + 0.2, [m.peak_working_capital_p95 for m in r.models], 0.4, color=COLOURS[1],
           label="Peak working capital (P95)")
    if r.models:
        ax.axhline(r.models[0].reserves, color="black", ls="--", lw=1,
                   label=f"Your reserves ({money(r.models[0].reserves, sym)})")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel(f"Amount ({r.currency})")
    _money_axis(ax.yaxis, sym)
    _title(ax, "What the provider needs, by finance model", r.scenario)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def size_curves(sw, crossovers=()) -> Figure:
    """Mean value for money (P5-P95 band across trials) against cohort size for each model,
    with the sizes at which a SIB overtakes the others (``crossovers``: dicts from :func:`sibsim.scale.crossover`)."""
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    x = np.asarray(sw.participants)
    for i, m in enumerate(sw.models):
        v = sw.vfm(m)
        c = COLOURS[i % len(COLOURS)]
        ax.plot(x, v.mean(axis=1), marker="o", color=c, label=MODEL_LABELS.get(m, m))
        ax.fill_between(x, np.percentile(v, 5, axis=1), np.percentile(v, 95, axis=1), color=c, alpha=0.12)
    for c in crossovers:
        if c["participants"] == c["participants"]:
            ax.axvline(c["participants"], color="grey", ls=":", lw=1)
            ax.annotate(f"SIB overtakes {c['other']}: {c['participants']:,.0f}", (c["participants"], 1.0),
                        xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right", fontsize=7)
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{v:,.0f}" for v in x])
    ax.minorticks_off()
    ax.set_xlabel("Contract size (participants)")
    what = "Commissioner net present value" if sw.metric == "commissioner_npv" else "Minus public cost (present value)"
    ax.set_ylabel(what)
    _money_axis(ax.yaxis, _symbol(sw.currency))
    _title(ax, "Value for money by contract size", sw.scenario)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def portfolio_by_year(run) -> Figure:
    """The payer's spend by calendar year across the portfolio: mean with P5-P95 bars."""
    sym = _symbol(run.portfolio.currency)
    t = run.by_year_table()
    fig = Figure(figsize=(7, 3.8))
    ax = fig.add_subplot()
    y = np.asarray(t.index)
    ax.bar(y, t["mean"], color=COLOURS[0], yerr=[t["mean"] - t["p5"], t["p95"] - t["mean"]], capsize=3,
           label="Mean (bars: P5 to P95)")
    ax.set_xticks(y, [str(v) for v in y])
    ax.set_xlabel("Calendar year")
    ax.set_ylabel(f"Spend ({run.portfolio.currency})")
    _money_axis(ax.yaxis, sym)
    _title(ax, f"Spend by year ({run.portfolio.payer.replace('_', ' ')})", run.portfolio.name)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def portfolio_total(run) -> Figure:
    """Distribution of the payer's total spend across trials, with the budget if the portfolio has one."""
    sym = _symbol(run.portfolio.currency)
    fig = Figure(figsize=(7, 3.8))
    ax = fig.add_subplot()
    ax.hist(run.total, bins=40, color=COLOURS[0], alpha=0.8)
    b = run.portfolio.budget
    if b is not None:
        p = run.p_over_budget()["p"]
        ax.axvline(b, color="black", ls="--", lw=1, label=f"Budget {money(b, sym)}: P(exceeded) = {p:.3f}")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"Total spend ({run.portfolio.currency})")
    ax.set_ylabel("Trials")
    _money_axis(ax.xaxis, sym)
    _title(ax, f"Total spend ({run.portfolio.payer.replace('_', ' ')})", run.portfolio.name)
    fig.tight_layout()
    return fig
