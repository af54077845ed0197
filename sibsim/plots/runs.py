"""Figures of runs: distributions, fan charts, risk and return, priors, reference classes.

Each public function returns a new :class:`matplotlib.figure.Figure` made
without pyplot (safe under the Agg backend, in threads and in Streamlit).
Functions that take several runs accept a ``Run``, a sequence of runs
(labelled by scenario name and seed) or a mapping ``label -> Run``; a "run"
is anything with ``metrics`` and ``indicators`` mappings of ``(trials,)``
arrays, and ``paths`` for fan charts (see :class:`sibsim.run.Run`).

Percentiles in fan charts are across the trials whose per-period cash is kept
(``Run.paths``, at most 2,000), so bands are pointwise, not whole paths.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from .. import outputs
from ..errors import UsageError

COLOURS = ("#1f5f8b", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#666666")

PARTIES = {
    "investor": "Investors",
    "commissioner": "Commissioner",
    "outcome_fund": "Outcomes fund",
    "provider": "Provider",
    "intermediary": "Intermediary",
    "guarantor": "Guarantor",
    "lender": "Lender",
    "delivery": "Delivery",
}
# Run.paths also holds these two totals; they mirror the commissioner's and delivery's cash
TOTALS = {"outcome_payments": "Outcome payments", "delivery_cost": "Delivery cost"}

_SYMBOL = {"GBP": "£", "USD": "$", "EUR": "€"}
_PERIOD = {"month": "Month", "quarter": "Quarter", "year": "Year"}


# ---------------------------------------------------------------- helpers


def metric_label(metric: str) -> str:
    """The output's label from its declaration (:func:`sibsim.outputs.label`)."""
    return outputs.label(metric)


_KIND = {"currency": "money", "share": "share", "probability": "share", "rate_per_year": "rate",
         "multiple": "ratio", "count": "count", "periods": "count"}


def _kind(metric: str) -> str:
    """Tick format of an output's axis, from its declared unit."""
    return _KIND.get(outputs.unit(metric), "number")


def currency_symbol(run) -> str:
    """£, $ or € for the run's scenario currency, else its code and a space ("DKK ")."""
    code = getattr(getattr(run, "scenario", None), "currency", "") or ""
    return _SYMBOL.get(code, f"{code} " if code else "")


def money(x: float, symbol: str = "£") -> str:
    """Compact money: £1.25m, £350k, -£4,000."""
    if x is None or not np.isfinite(x):
        return "n/a"
    sign, a = ("-" if x < 0 and abs(x) >= 0.5 else ""), abs(x)
    if a >= 1e6:
        return f"{sign}{symbol}{a / 1e6:.2f}m"
    if a >= 1e4:
        return f"{sign}{symbol}{a / 1e3:.0f}k"
    return f"{sign}{symbol}{a:,.0f}"


def _format_axis(axis, kind: str, symbol: str) -> None:
    if kind in ("rate", "share"):
        axis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    elif kind == "money":
        axis.set_major_formatter(FuncFormatter(lambda v, _: money(v, symbol)))


def ordinal(x: float) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 22nd, ... of a rounded number."""
    n = int(round(x))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def run_label(run) -> str:
    sc = getattr(run, "scenario", None)
    name = getattr(sc, "name", "run")
    return f"{name} (seed {getattr(run, 'seed', '?')}, {getattr(run, 'trials', '?'):,} trials)"


def as_runs(run_or_runs) -> dict[str, object]:
    """``label -> run`` from a run, a sequence of runs or a mapping."""
    if hasattr(run_or_runs, "metrics"):
        return {run_label(run_or_runs): run_or_runs}
    if isinstance(run_or_runs, Mapping):
        return dict(run_or_runs)
    if isinstance(run_or_runs, Sequence):
        out: dict[str, object] = {}
        for r in run_or_runs:
            label = run_label(r)
            k = 2
            while label in out:
                label, k = f"{run_label(r)} #{k}", k + 1
            out[label] = r
        return out
    raise UsageError(f"expected a Run, a list of runs or a mapping label -> Run; got {type(run_or_runs).__name__}")


def _metric(run, metric: str) -> np.ndarray:
    if metric in run.metrics:
        return np.asarray(run.metrics[metric], dtype=float)
    if metric in run.indicators:
        return np.asarray(run.indicators[metric], dtype=float)
    raise UsageError(f"metric {metric!r} is not in this run; metrics: {', '.join(sorted(run.metrics))}")


def to_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


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
            if single:
                ax.hist(vc, bins=edges, weights=w, color=colour, alpha=0.8, label=label)
                for q, style in ((5, ":"), (50, "-"), (95, ":")):
                    ax.axvline(np.percentile(v, q), color="black", lw=1, ls=style)
            else:
                ax.hist(vc, bins=edges, weights=w, histtype="step", lw=1.6, color=colour, label=label)
                ax.axvline(np.median(v), color=colour, lw=1, ls="--")
        nan = {k: int(d.size - finite[k].size) for k, d in data.items()}
        notes = [f"{n:,} undefined" + ("" if single else f" ({k})") for k, n in nan.items() if n]
        if notes:
            ax.text(0.99, 0.97, "\n".join(notes), ha="right", va="top", fontsize=7, transform=ax.transAxes)
    kind = _kind(metric)
    _format_axis(ax.xaxis, kind, currency_symbol(next(iter(runs.values()))))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(metric_label(metric))
    ax.set_ylabel("Share of trials")
    if len(runs) > 1:
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    else:
        ax.set_title("median (solid), P5 and P95 (dotted)", fontsize=8)


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
        title = f"fixed at {x[0]:.4g}"
    else:
        ax.hist(x, bins=bins, density=True, color=COLOURS[0], alpha=0.75)
        ax.axvline(mean, color="black", lw=1)
        title = f"mean {mean:.3g}, sd {sd:.3g}"
    ax.set_title(title if name is None else f"{name}: {title}", fontsize=7)
    ax.set_yticks([])
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
            ax.scatter(ref, rng.uniform(-0.25, 0.25, ref.size), s=9, color=COLOURS[0], alpha=0.5)
            q1, q2, q3 = np.percentile(ref, [25, 50, 75])
            ax.fill_betweenx([-0.35, 0.35], q1, q3, color=COLOURS[0], alpha=0.15, lw=0)
            ax.plot([q2, q2], [-0.35, 0.35], color=COLOURS[0], lw=1.5)
            ax.set_xscale("log")
        ax.axvline(pos["value"], color="#c0392b", lw=2)
        symbol = _SYMBOL.get(cur, f"{cur} ") if cur else None
        ax.xaxis.set_major_formatter(FuncFormatter(
            (lambda v, _, s=symbol: money(v, s)) if symbol is not None else (lambda v, _: f"{v:,.0f}")))
        unit = f" ({cur})" if cur else ""
        pct = pos.get("percentile", np.nan)
        where = f"scenario at {ordinal(pct)} percentile of {pos.get('n', ref.size)}" if np.isfinite(pct) else "no data"
        ax.set_title(f"{_REFERENCE_LABELS.get(q, q)}{unit}: {where}", fontsize=8, loc="left")
        ax.set_yticks([])
        ax.set_ylim(-0.5, 0.5)
        ax.tick_params(labelsize=7)
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
