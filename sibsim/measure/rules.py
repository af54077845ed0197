"""Payment rules on a measured result (docs/model.md s.6.3): pure functions over per-trial arrays.

A measured result is a pair of rates per trial: ``r_x``, the treated cohort's
observed rate, and ``r_c``, the comparison rate. For an outcome to ``reduce``
the improvement is the relative reduction ``(r_c - r_x) / r_c`` and the
difference ``r_c - r_x`` (units avoided per person); for one to ``increase``
the signs flip. Then, at each measurement point,

1. trigger: nothing is paid unless the improvement reaches the point's trigger
   (Peterborough: 10% for one cohort; 7.5% for all cohorts pooled);
2. amount: ``price_per_unit * max(0, difference) * N`` (N: the measured
   population; docs/model.md s.6.3), or a step / piecewise-linear schedule of the
   improvement (Rikers Island); never below zero;
3. the point's cap; then what the point replaces (``net_of``: payments already
   made at earlier points are deducted, never below zero); then the contract
   total, in payment order, the payment that crosses it cut to fit.

Worked by hand (tests/test_measurement.py): Peterborough cohort 1, 142 against
155 reconviction events per 100, is an improvement of 13 / 155 = 8.4%, below
the 10% trigger: nothing paid.
"""

from __future__ import annotations

import numpy as np


def improvement(r_x, r_c, direction: str = "reduce"):
    """(relative improvement, difference per person) of observed rate ``r_x`` against ``r_c``.

    NaN where the comparison rate is zero or either rate is undefined: no
    improvement can be measured and nothing is paid.
    """
    r_x = np.asarray(r_x, dtype=float)
    r_c = np.asarray(r_c, dtype=float)
    diff = (r_c - r_x) if direction == "reduce" else (r_x - r_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(r_c > 0, diff / r_c, np.nan)
    return rel, np.where(np.isnan(rel), np.nan, diff)


def schedule(imp, thresholds, payments, interpolation: str = "step"):
    """Payment for measured improvement ``imp`` on a schedule.

    Nothing below ``thresholds[0]``; ``step``: ``payments[j]`` from
    ``thresholds[j]`` until the next threshold; ``linear``: interpolated
    between thresholds; flat after the last. NaN improvement pays nothing.
    """
    imp = np.asarray(imp, dtype=float)
    thr = np.asarray(thresholds, dtype=float)
    pay = np.asarray(payments, dtype=float)
    ok = np.isfinite(imp) & (imp >= thr[0])
    x = np.where(ok, imp, thr[0])
    if interpolation == "linear":
        amount = np.interp(x, thr, pay)
    else:
        amount = pay[np.searchsorted(thr, x, side="right") - 1]
    return np.where(ok, amount, 0.0)


def per_unit(diff, size, price_per_unit):
    """``price_per_unit * max(0, diff) * size``: units of improvement in the measured population (NaN: 0)."""
    d = np.nan_to_num(np.asarray(diff, dtype=float), nan=0.0)
    return np.maximum(d, 0.0) * np.asarray(size, dtype=float) * price_per_unit


def gross(imp, diff, size, *, trigger=0.0, price_per_unit=None, thresholds=None, payments=None,
          interpolation: str = "step"):
    """What a point's rule calls for, before caps: zero unless ``imp >= trigger``.

    Give ``price_per_unit`` (pay per unit) or ``thresholds`` and ``payments``
    (a schedule). Arrays are ``(n,)``; ``trigger`` and the price may be ``(n,)``.
    """
    imp = np.asarray(imp, dtype=float)
    met = np.isfinite(imp) & (imp >= trigger)
    if price_per_unit is not None:
        amount = per_unit(diff, size, price_per_unit)
    else:
        amount = schedule(imp, thresholds, payments, interpolation)
    return np.where(met, np.maximum(amount, 0.0), 0.0)


def settle(amounts: list[np.ndarray], *, periods: list[int], caps: list, net_of: list[list[int]],
           cap_total=None) -> list[np.ndarray]:
    """What each point pays, in order of (payment period, listing).

    ``amounts[i]``: point i's gross amount (n,); ``caps[i]``: its cap (None,
    a number or (n,)); ``net_of[i]``: indices of points whose payments it
    replaces (paid no later than it); ``cap_total``: the most all points pay
    together. Loops over points only (a handful); trials stay vectorised.
    """
    paid: list[np.ndarray | None] = [None] * len(amounts)
    running = np.zeros_like(np.asarray(amounts[0], dtype=float))
    for i in sorted(range(len(amounts)), key=lambda i: (periods[i], i)):
        a = np.asarray(amounts[i], dtype=float)
        if caps[i] is not None:
            a = np.minimum(a, caps[i])
        if net_of[i]:
            a = np.maximum(a - sum(paid[j] for j in net_of[i]), 0.0)
        if cap_total is not None:
            a = np.minimum(a, np.maximum(cap_total - running, 0.0))
        running = running + a
        paid[i] = a
    return paid
