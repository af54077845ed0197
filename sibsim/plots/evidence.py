"""Figures of the evidence behind a scenario: a prior's density, the reference class of real impact bonds.

Each function returns a new :class:`matplotlib.figure.Figure` made without
pyplot; both are re-exported by :mod:`sibsim.plots.runs`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from .base import _SYMBOL, COLOURS, money, ordinal, readable


# ---------------------------------------------------------------- priors


def prior_density(prior, *, name: str | None = None, n: int = 2000, bins: int = 30, figsize=(2.6, 1.4)) -> Figure:
    """A small histogram of a prior, drawn from ``prior.ppf`` on a uniform grid of ``n`` points.

    The grid ``(j + 0.5) / n`` gives the quantiles exactly, so the picture is
    the same on every call; a line marks the mean. A fixed value is one line.
    """
    u = (np.arange(n) + 0.5) / n
    x = np.asarray(prior.ppf(u), dtype=float)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    mean, sd = float(prior.mean), float(np.sqrt(max(prior.variance, 0.0)))
    if np.ptp(x) == 0:
        ax.axvline(x[0], color=COLOURS[0], lw=2)
        ax.set_xlim(x[0] - 1 if x[0] == 0 else x[0] * 0.5, x[0] + 1 if x[0] == 0 else x[0] * 1.5)
        title = f"fixed at {readable(x[0])}"
    else:
        ax.hist(x, bins=bins, density=True, color=COLOURS[0], alpha=0.75)
        ax.axvline(mean, color="black", lw=1)
        title = f"mean {readable(mean, 3)}, sd {readable(sd, 3)}"
    ax.set_title(title if name is None else f"{name}: {title}", fontsize=7)
    ax.set_yticks([])
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: readable(v, 3)))
    ax.tick_params(labelsize=6)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return fig


# ---------------------------------------------------------------- reference class

_REFERENCE_LABELS = {
    "capital": "Capital raised",
    "max_outcome_payments": "Maximum outcome payments",
    "participants": "Participants",
    "price_per_outcome": "Price per outcome (median of rate card)",
    "duration_years": "Duration (years)",
}
# column of local amounts -> the column naming their currency (sibsim.indigo's tidy projects table)
_CURRENCY_OF = {
    "capital_raised_local": "currency",
    "max_outcome_payments_local": "max_outcome_payments_currency",
    "price_per_outcome_median_local": "rate_card_currency",
}


def reference_class(projects, position: Mapping[str, Mapping], *, figsize=None) -> Figure:
    """Where a scenario sits among real impact bonds (INDIGO), one strip per quantity.

    ``position`` is the result of :func:`sibsim.indigo.reference_class`
    (value, percentile, n, column, currency per quantity); each panel shows
    the reference projects as points on a log axis, their quartiles as a box
    and the scenario as a red line with its percentile. Data: GO Lab INDIGO.
    """
    qs = list(position)
    fig = Figure(figsize=figsize or (6.5, 1.35 * max(len(qs), 1) + 0.5), layout="constrained")
    axes = fig.subplots(max(len(qs), 1), 1, squeeze=False)[:, 0]
    rng = np.random.default_rng(0)  # jitter only: fixed so the picture is stable
    for ax, q in zip(axes, qs):
        pos = position[q]
        col = pos["column"]
        df = projects
        cur = pos.get("currency")
        if col in _CURRENCY_OF and cur:
            df = df[df[_CURRENCY_OF[col]] == cur]
        ref = np.asarray(df[col].astype(float).dropna(), dtype=float)
        ref = ref[ref > 0]
        if ref.size:
            ax.scatter(ref, rng.uniform(-0.25, 0.25, ref.size), s=9, color=COLOURS[0], alpha=0.5,
                       label="INDIGO projects")
            q1, q2, q3 = np.percentile(ref, [25, 50, 75])
            ax.fill_betweenx([-0.35, 0.35], q1, q3, color=COLOURS[0], alpha=0.15, lw=0,
                             label="middle half (P25-P75)")
            ax.plot([q2, q2], [-0.35, 0.35], color=COLOURS[0], lw=1.5, label="median project")
            ax.set_xscale("log")
            lo, hi = min(ref.min(), pos["value"]), max(ref.max(), pos["value"])
            decades = np.log10(hi / lo) if lo > 0 else 10
            # labelled ticks at 1, 2, 5 x 10^k on a short axis (else a log axis labels only its minor ticks, as
            # "2x10^3"), at 10^k on a long one; minor ticks unlabelled
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0,) if decades > 2.5 else (1.0, 2.0, 5.0)))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.axvline(pos["value"], color="#c0392b", lw=2, label="this scenario")
        symbol = _SYMBOL.get(cur, f"{cur} ") if cur else None
        ax.xaxis.set_major_formatter(FuncFormatter(
            (lambda v, _, s=symbol: money(v, s)) if symbol is not None else (lambda v, _: readable(v, 3))))
        unit = f" ({cur})" if cur else ""
        pct = pos.get("percentile", np.nan)
        where = f"scenario at {ordinal(pct)} percentile of {pos.get('n', ref.size)}" if np.isfinite(pct) else "no data"
        ax.set_title(f"{_REFERENCE_LABELS.get(q, q)}{unit}: {where}", fontsize=8, loc="left")
        ax.set_yticks([])
        ax.set_ylim(-0.5, 0.5)
        ax.tick_params(labelsize=7)
    handles = {}
    for ax in axes[: len(qs)]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=len(handles),
                   fontsize=7, frameon=False)
    return fig
