"""What every figure shares: colours, party names, number and money formats, run labels.

Used by :mod:`sibsim.plots.runs` (which re-exports every name here, so
``from sibsim.plots.runs import money`` keeps working) and the other figure
modules.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, PercentFormatter

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


def readable(x: float, digits: int = 4) -> str:
    """A number for people: thousands separators, at most ``digits`` significant digits (19,360; 0.35; 1.2e-05)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e15 or a < 1e-4:
        return f"{x:.{digits - 1}g}"
    decimals = max(0, digits - 1 - int(np.floor(np.log10(a))))
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class MoneyFormatter(Formatter):
    """Money tick labels whose precision follows the tick spacing.

    The unit (m, k or units) is chosen from the largest tick and the decimals
    from the step between ticks, so that neighbouring ticks never read the
    same ("£0, £0, £0" on an axis from 0 to 0.6 becomes "£0.0, £0.2, ...").
    A single value (the cursor) is written by :func:`money`.
    """

    def __init__(self, symbol: str = "£"):
        self.symbol = symbol
        self._fmt = None

    def set_locs(self, locs):
        super().set_locs(locs)
        locs = np.asarray([v for v in locs if np.isfinite(v)], dtype=float)
        if locs.size == 0:
            self._fmt = None
            return
        big = float(np.abs(locs).max())
        div, suffix = (1e6, "m") if big >= 1e6 else (1e3, "k") if big >= 1e4 else (1.0, "")
        scaled = locs / div
        # the fewest decimals that write every tick exactly (0.25 needs 2), at most 6
        decimals = next((d for d in range(7) if np.allclose(scaled * 10**d, np.round(scaled * 10**d),
                                                            rtol=0, atol=1e-6 * max(1.0, 10**d))), 6)
        self._fmt = (div, suffix, decimals)

    def __call__(self, x, pos=None):
        if self._fmt is None or pos is None:
            return money(x, self.symbol)
        div, suffix, decimals = self._fmt
        v = x / div
        if abs(v) < 0.5 * 10 ** -decimals:
            v = 0.0
        sign = "-" if v < 0 else ""
        return f"{sign}{self.symbol}{abs(v):,.{decimals}f}{suffix}"


def _format_axis(axis, kind: str, symbol: str) -> None:
    if kind in ("rate", "share"):
        axis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    elif kind == "money":
        axis.set_major_formatter(MoneyFormatter(symbol))


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
