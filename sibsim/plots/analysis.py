"""Figures for exploring a run the way risk analysts do in spreadsheet add-ins: cumulative S-curves of an output,
input-output scatter plots, and a heat map of a two-input sweep. Each returns a new Figure (no pyplot)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from ..errors import UsageError
from .base import COLOURS, _format_axis, _kind as _declared_kind, _metric, as_runs, currency_symbol, metric_label, money


def _kind(metric: str) -> str:
    return _declared_kind(metric)  # the declared unit's tick format (sibsim.outputs)


def s_curve(run_or_runs, metric: str, *, figsize=(6.0, 3.6)) -> Figure:
    """Cumulative distribution of ``metric``: the share of trials at or below each value (an S-curve), one line
    per run; P5, P50 and P95 of the first run are marked. Undefined (NaN) trials are left out and counted."""
    runs = as_runs(run_or_runs)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    notes = []
    first = None
    for j, (label, run) in enumerate(runs.items()):
        x = _metric(run, metric)
        ok = np.sort(x[~np.isnan(x)])
        if ok.size == 0:
            notes.append(f"{label}: undefined in every trial")
            continue
        y = np.arange(1, ok.size + 1) / ok.size
        ax.step(ok, y, where="post", color=COLOURS[j % len(COLOURS)], lw=1.6, label=label)
        if first is None:
            first = (run, ok)
        if ok.size < x.size:
            notes.append(f"{label}: {x.size - ok.size:,} undefined trials left out")
    if first is not None:
        run, ok = first
        for q in (5, 50, 95):
            v = float(np.percentile(ok, q))
            ax.axvline(v, color="grey", lw=0.8, ls=":")
            ax.annotate(f"P{q}", (v, 0.02 + 0.9 * q / 100), fontsize=7, color="grey", xytext=(3, 0),
                        textcoords="offset points")
        _format_axis(ax.xaxis, _kind(metric), currency_symbol(run))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, 1)
    ax.set_xlabel(metric_label(metric))
    ax.set_ylabel("Share of trials at or below")
    ax.grid(alpha=0.3)
    if len(runs) > 1:
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    if notes:
        fig.supxlabel("; ".join(notes), fontsize=7, color="grey")
    return fig


def input_scatter(run, param: str, metric: str, *, max_points: int = 4_000, figsize=(5.6, 3.8)) -> Figure:
    """Each trial's draw of ``param`` against its ``metric``, with the binned mean: what drives the output.

    The title gives Spearman's rank correlation over all trials (NaNs left out)."""
    if param not in run.params:
        raise UsageError(f"{param!r} is not a parameter of this run; parameters: {', '.join(sorted(run.params))}")
    x = np.asarray(run.params[param], dtype=float)
    y = _metric(run, metric)
    ok = ~np.isnan(y) & ~np.isnan(x)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    idx = np.flatnonzero(ok)[:max_points]
    ax.scatter(x[idx], y[idx], s=4, alpha=0.35, color=COLOURS[0], lw=0, label=f"trials (first {idx.size:,})")
    rho = float("nan")
    if ok.sum() > 2 and np.ptp(x[ok]) > 0:
        from scipy.stats import spearmanr

        rho = float(spearmanr(x[ok], y[ok]).statistic)
        edges = np.quantile(x[ok], np.linspace(0, 1, 11))
        mids, means = [], []
        for a, b in zip(edges[:-1], edges[1:]):
            sel = ok & (x >= a) & (x <= b)
            if sel.any():
                mids.append(x[sel].mean())
                means.append(y[sel].mean())
        ax.plot(mids, means, color=COLOURS[1], lw=2, marker="o", ms=3, label="mean by decile of the input")
    _format_axis(ax.yaxis, _kind(metric), currency_symbol(run))
    ax.set_xlabel(param)
    ax.set_ylabel(metric_label(metric))
    ax.set_title(f"Spearman rank correlation {rho:+.2f}" if np.isfinite(rho) else "No variation in the input",
                 fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="best")
    ax.grid(alpha=0.3)
    return fig


def heat_map(df, x: str, y: str, column: str, *, money_symbol: str | None = None, figsize=(6.0, 4.2)) -> Figure:
    """A two-input sweep as a heat map of one result column (e.g. ``investor_irr_p50``), each cell labelled."""
    if column not in df.columns:
        raise UsageError(f"{column!r} is not a column of this sweep; columns: {', '.join(df.columns)}")
    table = df.pivot_table(index=y, columns=x, values=column, aggfunc="mean").sort_index(ascending=False)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    vals = table.to_numpy(dtype=float)
    im = ax.imshow(vals, aspect="auto", cmap="viridis")
    ax.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns], fontsize=8)
    ax.set_yticks(range(table.shape[0]), [f"{v:g}" for v in table.index], fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    base = column.rsplit("_", 1)[0]
    kind = _kind(base)
    if money_symbol is not None and kind == "money":
        fmt = lambda v: money(v, money_symbol)  # noqa: E731
    elif kind in ("rate", "share") or column.endswith("_p"):
        fmt = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    else:
        fmt = lambda v: f"{v:,.3g}"  # noqa: E731
    finite = vals[np.isfinite(vals)]
    mid = float(np.median(finite)) if finite.size else 0.0
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            v = vals[i, j]
            ax.text(j, i, "undefined" if not np.isfinite(v) else fmt(v), ha="center", va="center", fontsize=7,
                    color="white" if np.isfinite(v) and v < mid else "black")
    bar = fig.colorbar(im, ax=ax, shrink=0.85)
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    ax.set_title(f"{metric_label(base)} ({column.rsplit('_', 1)[1]})", fontsize=10)
    return fig
