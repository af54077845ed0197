"""Figures of a re-forecast (:class:`sibsim.reforecasting.Reforecast`): prior against posterior, the forecast fan
from today with the observed path drawn in, and quarter-by-quarter intervals.

Every function returns a new :class:`matplotlib.figure.Figure` made without pyplot (see :mod:`.runs`).
Fan bands are pointwise percentiles across the trials whose per-period cash is kept (at most 2,000).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from .base import COLOURS, _format_axis, currency_symbol

PRIOR_COLOUR, POST_COLOUR, OBS_COLOUR = "#999999", COLOURS[0], "#000000"


def prior_posterior(rf, *, names: Sequence[str] | None = None, truth: Mapping[str, float] | None = None,
                    ncols: int = 4, bins: int = 30) -> Figure:
    """One panel per uncertain parameter: prior (grey) and posterior (blue) histograms, the truth if known."""
    post = rf.posterior
    names = list(names or post.space.names)
    nrows = max(1, -(-len(names) // ncols))
    fig = Figure(figsize=(2.6 * min(ncols, max(len(names), 1)), 1.9 * nrows), layout="constrained")
    for i, k in enumerate(names):
        ax = fig.add_subplot(nrows, min(ncols, len(names)), i + 1)
        a, b = np.asarray(post.prior[k]), np.asarray(post.params[k])
        lo, hi = np.nanpercentile(np.r_[a, b], [0.5, 99.5])
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        ax.hist(a, bins=edges, density=True, color=PRIOR_COLOUR, alpha=0.55, label="prior")
        ax.hist(b, bins=edges, weights=post.weights, density=True, color=POST_COLOUR, alpha=0.6, label="posterior")
        if truth and k in truth:
            ax.axvline(truth[k], color="#d95f02", lw=1.5, label="truth")
        ax.set_title(k, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
        if i == 0:
            ax.legend(fontsize=6, frameon=False)
    return fig


def _bands(x: np.ndarray, qs=(5, 25, 50, 75, 95)) -> np.ndarray:
    return np.percentile(x, qs, axis=0)


def forecast_fan(rf, *, series: str = "outcome_payments", cumulative: bool = True, figsize=(7.0, 3.6)) -> Figure:
    """The forecast of ``series`` (a path kept by the run: ``outcome_payments``, ``delivery_cost``, or a
    party's net cash) by period: the prior forecast's 90% band in grey, the re-forecast's 50% and 90% bands
    from today on, and the observed path (payments, when observed) up to today."""
    run, prior, obs = rf.run, rf.prior_run, rf.observations
    U = obs.until
    y_post, y_prior = np.asarray(run.paths[series]), np.asarray(prior.paths[series])
    if cumulative:
        y_post, y_prior = np.cumsum(y_post, axis=1), np.cumsum(y_prior, axis=1)
    T = y_post.shape[1]
    t = np.arange(T)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    bp = _bands(y_prior)
    ax.fill_between(t, bp[0], bp[4], color=PRIOR_COLOUR, alpha=0.25, lw=0, label="prior forecast, 90%")
    ax.plot(t, bp[2], color=PRIOR_COLOUR, lw=1, ls="--")
    b = _bands(y_post)
    fut = t >= U - 1
    ax.fill_between(t[fut], b[0][fut], b[4][fut], color=POST_COLOUR, alpha=0.25, lw=0, label="re-forecast, 90%")
    ax.fill_between(t[fut], b[1][fut], b[3][fut], color=POST_COLOUR, alpha=0.35, lw=0, label="re-forecast, 50%")
    ax.plot(t[fut], b[2][fut], color=POST_COLOUR, lw=1.5)
    if series == "outcome_payments" and not np.isnan(obs.payments).all():
        seen = np.full(U, np.nan)
        seen[obs.periods] = obs.payments
        path = np.nancumsum(seen) if cumulative else seen
        ok = ~np.isnan(seen)
        ax.plot(np.arange(U)[ok], path[ok], color=OBS_COLOUR, marker="o", ms=3, lw=1.5, label="observed")
    ax.axvline(U - 0.5, color=OBS_COLOUR, lw=0.8, ls=":")
    ax.annotate("today", (U - 0.5, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                textcoords="offset points", fontsize=8)
    ax.set_xlabel(f"period ({run.scenario.period})")
    label = series.replace("_", " ")
    ax.set_ylabel(("cumulative " if cumulative else "") + label)
    _format_axis(ax.yaxis, "money", currency_symbol(run))
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    return fig


def interval_by_period(rows: Sequence[Mapping], *, truth: float | None = None, label: str = "Outcome payments",
                       symbol: str = "£", figsize=(6.5, 3.2)) -> Figure:
    """Forecast interval of a final quantity as evidence arrives: ``rows`` of ``{"until", "p5", "p50", "p95"}``
    (``until`` 0: the prior forecast), the truth as a line if known."""
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    u = np.array([r["until"] for r in rows])
    lo, mid, hi = (np.array([r[k] for r in rows]) for k in ("p5", "p50", "p95"))
    ax.fill_between(u, lo, hi, color=POST_COLOUR, alpha=0.25, lw=0, step="mid", label="90% interval")
    ax.plot(u, mid, color=POST_COLOUR, marker="o", ms=3, label="median")
    if truth is not None:
        ax.axhline(truth, color="#d95f02", lw=1.5, label="truth")
    ax.set_xlabel("periods observed")
    ax.set_ylabel(label)
    _format_axis(ax.yaxis, "money", symbol)
    ax.legend(fontsize=7, frameon=False)
    return fig
