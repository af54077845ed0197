"""Figures of runs: distributions, fan charts, risk and return, priors, reference classes.

Each public function returns a new :class:`matplotlib.figure.Figure` made
without pyplot (safe under the Agg backend, in threads and in Streamlit).
Functions that take several runs accept a ``Run``, a sequence of runs
(labelled by scenario name and seed) or a mapping ``label -> Run``; a "run"
is anything with ``metrics`` and ``indicators`` mappings of ``(trials,)``
arrays, and ``paths`` for fan charts (see :class:`sibsim.run.Run`).

Percentiles in fan charts are across the trials whose per-period cash is kept
(``Run.paths``, at most 2,000), so bands are pointwise, not whole paths.

The shared helpers (colours, party names, money and number formats, run
labels) live in :mod:`sibsim.plots.base` and the evidence figures (prior
density, reference class) in :mod:`sibsim.plots.evidence`; both are
re-exported here, so every ``sibsim.plots.runs`` name keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from .. import outputs
from ..errors import UsageError
from .base import (  # noqa: F401  (re-exported: sibsim.plots.runs is the figures' front door)
    _KIND, _PERIOD, _SYMBOL, COLOURS, PARTIES, TOTALS, MoneyFormatter, _format_axis, _kind, _metric, as_runs,
    currency_symbol, metric_label, money, ordinal, readable, run_label, to_png,
)
from .evidence import _CURRENCY_OF, _REFERENCE_LABELS, prior_density, reference_class  # noqa: F401


# ---------------------------------------------------------------- distributions


def _draw_hist(ax, runs: dict, metric: str, bins: int) -> None:
    data = {k: _metric(r, metric) for k, r in runs.items()}
    finite = {k: v[np.isfinite(v)] for k, v in data.items()}
    allv = np.concatenate([v for v in finite.values()]) if finite else np.array([])
    if allv.size == 0:
        ax.text(0.5, 0.5, "no defined values", ha="center", va="center", transform=ax.transAxes)
    else:
        lo, hi = np.percentile(allv, [0.5, 99.5]) if allv.size > 200 else (allv.min(), allv.max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        single = len(runs) == 1
        for i, (label, v) in enumerate(finite.items()):
            if v.size == 0:
                continue
            colour = COLOURS[i % len(COLOURS)]
            w = np.full(v.size, 1.0 / v.size)
            vc = np.clip(v, lo, hi)  # the tails beyond P0.5/P99.5 are piled into the end bins
            n_undefined = int(data[label].size - v.size)
            if n_undefined and not single:  # in the legend, where no note can overlap it
                label = f"{label} ({n_undefined:,} undefined)"
            if single:
                ax.hist(vc, bins=edges, weights=w, color=colour, alpha=0.8, label=label)
                for q, style in ((5, ":"), (50, "-"), (95, ":")):
                    ax.axvline(np.percentile(v, q), color="black", lw=1, ls=style)
            else:
                ax.hist(vc, bins=edges, weights=w, histtype="step", lw=1.6, color=colour, label=label)
                ax.axvline(np.median(v), color=colour, lw=1, ls="--")
    kind = _kind(metric)
    _format_axis(ax.xaxis, kind, currency_symbol(next(iter(runs.values()))))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(metric_label(metric))
    ax.set_ylabel("Share of trials")
    if len(runs) > 1:
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    else:
        d = next(iter(data.values())) if data else np.array([])
        n_undefined = int(np.size(d) - np.isfinite(d).sum())
        note = f"; {n_undefined:,} of {np.size(d):,} trials undefined" if n_undefined else ""
        ax.set_title("median (solid), P5 and P95 (dotted)" + note, fontsize=8)


def hist(run_or_runs, metric: str, *, bins: int = 40, figsize=(6.0, 3.4)) -> Figure:
    """Histogram of a per-trial metric; several runs are overlaid as outlines on common bins.

    One run: ``bins`` filled bars with lines at P5, P50 and P95. Several runs:
    one outline per run and a dashed line at each run's median. Undefined
    (NaN) trials are counted in a note, not drawn.
    """
    runs = as_runs(run_or_runs)
    fig = Figure(figsize=figsize, layout="constrained")
    _draw_hist(fig.add_subplot(), runs, metric, bins)
    return fig


# ---------------------------------------------------------------- fan charts


def _draw_fan(ax, run, party: str, cumulative: bool) -> None:
    if party not in run.paths:
        raise UsageError(f"party {party!r} has no cash paths in this run; parties: {', '.join(run.paths)}")
    flows = np.asarray(run.paths[party], dtype=float)
    y = np.cumsum(flows, axis=1) if cumulative else flows
    x = np.arange(1, y.shape[1] + 1)
    p5, p25, p50, p75, p95 = np.percentile(y, [5, 25, 50, 75, 95], axis=0)
    ax.fill_between(x, p5, p95, color=COLOURS[0], alpha=0.18, lw=0, label="P5-P95")
    ax.fill_between(x, p25, p75, color=COLOURS[0], alpha=0.38, lw=0, label="P25-P75")
    ax.plot(x, p50, color=COLOURS[0], lw=1.8, label="median")
    ax.axhline(0, color="grey", lw=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # periods are whole numbers
    sc = getattr(run, "scenario", None)
    ax.set_xlabel(f"{_PERIOD.get(getattr(sc, 'period', ''), 'Period')} (end)", fontsize=9)
    ax.set_ylabel(("Cumulative net cash" if cumulative else "Net cash per period"), fontsize=9)
    _format_axis(ax.yaxis, "money", currency_symbol(run))
    ax.set_title(PARTIES.get(party) or TOTALS.get(party, party), fontsize=10)
    ax.tick_params(labelsize=8)


def fan_chart(run, party: str, *, cumulative: bool = True, figsize=(5.0, 3.0)) -> Figure:
    """Percentile bands (P5-P95, P25-P75, median) of a party's cumulative net cash over time."""
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    _draw_fan(ax, run, party, cumulative)
    ax.legend(fontsize=7, loc="best", frameon=False)
    return fig


def active_parties(run, *, tolerance: float = 0.5) -> list[str]:
    """Parties (not the ``TOTALS``) with cash in some trial, in the order of ``PARTIES``.

    Cash within ``tolerance`` (half a currency unit) of zero is rounding left
    by the waterfall's arithmetic (1e-10), not a flow worth a chart.
    """
    order = [p for p in PARTIES if p in run.paths] + [p for p in run.paths if p not in PARTIES and p not in TOTALS]
    return [p for p in order if np.abs(np.cumsum(np.asarray(run.paths[p], dtype=float), axis=1)).max() > tolerance]


def fan_charts(run, parties: Sequence[str] | None = None, *, ncols: int = 3, cumulative: bool = True) -> Figure:
    """Fan charts of several parties in one figure (default: every party with non-zero cash)."""
    parties = list(active_parties(run) if parties is None else parties)
    n = max(len(parties), 1)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    width, height = 3.6 * ncols, 2.6 * nrows
    fig = Figure(figsize=(width, height))
    # fixed margins in inches: constrained layout would double the drawing time of this, the app's slowest figure
    left, right, top, bottom, gap_w, gap_h = 0.85, 0.15, 0.3, 0.5, 0.95, 0.75
    axis_w = (width - left - right - (ncols - 1) * gap_w) / ncols
    axis_h = (height - top - bottom - (nrows - 1) * gap_h) / nrows
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        wspace=gap_w / axis_w, hspace=gap_h / axis_h)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, party in zip(axes.flat, parties):
        _draw_fan(ax, run, party, cumulative)
    for ax in list(axes.flat)[len(parties):]:
        ax.set_visible(False)
    if parties:
        axes.flat[0].legend(fontsize=7, loc="best", frameon=False)
    return fig


# ---------------------------------------------------------------- comparisons


def _loss_probability(run) -> tuple[float, float]:
    ind = run.indicators.get("investor_loss")
    x = np.asarray(ind if ind is not None else _metric(run, "investor_net_gain") < 0, dtype=float)
    p = float(x.mean())
    return p, float(np.sqrt(p * (1 - p) / x.size))


def risk_return(runs, *, kind: str = "loss", figsize=(6.0, 4.0)) -> Figure:
    """Investors' risk against return, one point per run with investors.

    Runs (or finance models) without investors have no such point and are
    left out, listed in a note (a UsageError if none has investors). ``kind="loss"``: P(investor loss) against mean investor net gain, with
    bars of two standard errors. ``kind="irr"``: P5 against median investor
    IRR. Each point's collection has ``gid`` ``"run:<label>"``.
    """
    if kind not in ("loss", "irr"):
        raise UsageError(f"risk_return: kind must be 'loss' or 'irr'; got {kind!r}")
    given = as_runs(runs)
    runs = {k: r for k, r in given.items() if "investor_net_gain" in r.metrics}
    if not runs:
        raise UsageError(f"risk_return: no run has investors ({', '.join(given)})")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    symbol = currency_symbol(next(iter(runs.values())))
    if len(runs) < len(given):
        ax.text(0.01, 0.01, "no investor: " + ", ".join(k for k in given if k not in runs), fontsize=7,
                transform=ax.transAxes, va="bottom")
    for i, (label, r) in enumerate(runs.items()):
        colour = COLOURS[i % len(COLOURS)]
        if kind == "loss":
            p, se = _loss_probability(r)
            g = _metric(r, "investor_net_gain")
            g = g[np.isfinite(g)]
            x, y = p, float(g.mean())
            ax.errorbar([x], [y], xerr=[2 * se], yerr=[2 * g.std(ddof=1) / np.sqrt(max(g.size, 1))],
                        fmt="none", ecolor=colour, lw=1)
        else:
            v = _metric(r, "investor_irr")
            v = v[np.isfinite(v)]
            x, y = (float(np.percentile(v, 5)), float(np.median(v))) if v.size else (np.nan, np.nan)
        sc = ax.scatter([x], [y], s=60, color=colour, label=label, zorder=3)
        sc.set_gid(f"run:{label}")
    if kind == "loss":
        ax.set_xlabel("P(investor loss)")
        ax.set_ylabel("Mean investor net gain")
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))  # decimals as the range needs
        _format_axis(ax.yaxis, "money", symbol)
    else:
        ax.set_xlabel("P5 investor IRR (downside)")
        ax.set_ylabel("Median investor IRR")
        _format_axis(ax.xaxis, "rate", symbol)
        _format_axis(ax.yaxis, "rate", symbol)
    ax.axhline(0, color="grey", lw=0.8)
    ax.legend(fontsize=7, loc="best", frameon=False)
    return fig


def acceptability_curves(run) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``comparison -> (willingness to pay, probability)`` from a run's ``vfm.<comparison>@<wtp>`` indicators.

    The engine's value-for-money appraisal (``sibsim.finance.appraisal``)
    records, per trial and per willingness to pay ``w`` per additional
    outcome, whether a model's net benefit beats another's (or nothing);
    the share of trials is the probability. Empty when the run has none.
    """
    points: dict[str, dict[float, float]] = {}
    for name, ind in run.indicators.items():
        found = outputs.match(name)
        if found is not None and "wtp" in found[1]:  # vfm.<comparison>@<wtp>, as declared
            comparison = name.split(".", 1)[1].rsplit("@", 1)[0]
            points.setdefault(comparison, {})[float(found[1]["wtp"])] = float(np.mean(ind))
    return {c: (np.array(sorted(p)), np.array([p[w] for w in sorted(p)])) for c, p in points.items()}


def has_acceptability_data(run) -> bool:
    return bool(acceptability_curves(run))


def acceptability(runs, *, figsize=None) -> Figure:
    """Acceptability curves: P(one option gives more net benefit than another) against willingness to pay.

    Read from the ``vfm.*@<wtp>`` indicators: one colour per run, one line
    style per comparison (``sib_better_than_fee``, ...); the legend sits
    below the axes. Runs without the indicators are left out (a UsageError
    if none has them).
    """
    runs = as_runs(runs)
    curves = {label: acceptability_curves(r) for label, r in runs.items()}
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        raise UsageError("acceptability: no run has acceptability data (vfm.*@<wtp> indicators)")
    comparisons = list(dict.fromkeys(c for by in curves.values() for c in by))
    styles = dict(zip(comparisons, ["-", "--", ":", "-."] * len(comparisons)))
    n_lines = sum(len(by) for by in curves.values())
    fig = Figure(figsize=figsize or (6.0, 3.2 + 0.16 * n_lines), layout="constrained")
    ax = fig.add_subplot()
    for i, (label, by_comparison) in enumerate(curves.items()):
        for comparison, (w, p) in by_comparison.items():
            name = comparison.replace("_", " ")
            ax.plot(w, p, marker="o", ms=3, lw=1.6, ls=styles[comparison], color=COLOURS[i % len(COLOURS)],
                    label=name if len(curves) == 1 else f"{label}: {name}")
    symbol = currency_symbol(next(iter(runs.values())))
    _format_axis(ax.xaxis, "money", symbol)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("Willingness to pay per additional outcome")
    ax.set_ylabel("Probability")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    return fig


# ---------------------------------------------------------------- report


def overview(run, *, parties: Sequence[str] | None = None) -> Figure:
    """One figure for a report: investor IRR and outcome payment histograms, then fan charts."""
    parties = list(active_parties(run) if parties is None else parties)
    ncols = 3
    nfan = -(-len(parties) // ncols) if parties else 0
    fig = Figure(figsize=(11, 3.2 + 2.6 * nfan), layout="constrained")
    grid = fig.add_gridspec(1 + nfan, ncols * 2)
    runs = as_runs(run)
    _draw_hist(fig.add_subplot(grid[0, 0:3]), runs, "investor_irr", 40)
    _draw_hist(fig.add_subplot(grid[0, 3:6]), runs, "outcome_payments", 40)
    for i, party in enumerate(parties):
        r, c = divmod(i, ncols)
        _draw_fan(fig.add_subplot(grid[1 + r, 2 * c:2 * c + 2]), run, party, True)
    fig.suptitle(run_label(run), fontsize=10)
    return fig
