"""One CashFlows type: who pays whom, per trial and period.

Every finance model returns a :class:`CashFlows`: a net flow for each party,
``(n, T)`` in currency, positive = cash in. ``delivery`` is the outside world
that is paid the delivery costs (staff, suppliers) and ``lender`` the bank
that charges interest on the provider's overdraft, so the flows of all
parties sum to zero in every trial and period: cash is conserved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PARTIES = ("investor", "commissioner", "outcome_fund", "provider", "intermediary", "guarantor", "lender", "delivery")


def present_value(flows: np.ndarray, disc: np.ndarray) -> np.ndarray:
    """(n,) ``sum_t flows[:, t] * disc[t]``, added in period order, trial by trial.

    Not ``flows @ disc``: a BLAS product may round a row differently depending
    on its neighbours in the batch, and each trial's numbers must not depend on
    how trials are chunked (docs/model.md s.13).
    """
    flows = np.asarray(flows, dtype=np.float64)
    out = np.zeros(flows.shape[0])
    for t in range(flows.shape[1]):
        out += flows[:, t] * disc[t]
    return out


@dataclass(frozen=True)
class CashFlows:
    """Each party's net cash, ``(n, T)``; every party in :data:`PARTIES` is present (zeros if not involved).

    extra: per-trial ``(n,)`` metrics only this model defines (``guarantee_paid``)
    parts: named ``(n, T)`` sub-flows inside a party's flow, for metrics:
        ``investor.<tranche>`` / ``provider.<tranche>`` (a tranche holder's flows),
        ``commissioner.fee`` (payments that reimburse cost: the optimism-bias base)
    """

    flows: dict[str, np.ndarray]
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    parts: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, party: str) -> np.ndarray:
        return self.flows[party]

    def total(self) -> np.ndarray:
        """(n, T) sum over parties; zero when cash is conserved."""
        return sum(self.flows.values())


def cash_flows(shape: tuple[int, int], *, extra=None, parts=None, **flows) -> CashFlows:
    """A CashFlows with every party, the ones not given set to zero."""
    unknown = set(flows) - set(PARTIES)
    if unknown:
        raise ValueError(f"unknown parties {sorted(unknown)}; parties: {', '.join(PARTIES)}")
    full = {p: np.broadcast_to(np.asarray(flows.get(p, 0.0), dtype=float), shape).copy() for p in PARTIES}
    return CashFlows(full, dict(extra or {}), dict(parts or {}))


def delivery_cost(sc, params, c) -> np.ndarray:
    """(n, T) delivery cost per period (docs/model.md s.7).

    ``fixed_per_period`` in ``fixed_periods`` (all periods if omitted), ``setup``
    in period 0, and participant costs times the per-trial ``multiplier``:
    ``per_start`` per starter and ``per_engaged`` per engaged starter in the start
    period, and ``per_engaged_per_period`` for each of ``service_periods`` periods.
    """
    from ..cohorts import col, value

    co = sc.costs
    T = sc.horizon_periods
    n = c.starts.shape[0]
    a, b = co.fixed_periods if co.fixed_periods is not None else (0, T - 1)
    out = np.zeros((n, T))
    out[:, a : b + 1] += col(value(co.fixed_per_period, params))
    out[:, 0] += value(co.setup, params)
    var = col(value(co.per_start, params)) * c.starts + col(value(co.per_engaged, params)) * c.engaged_starts
    ppp = value(co.per_engaged_per_period, params)
    if not (isinstance(ppp, float) and ppp == 0.0):
        active = np.cumsum(c.engaged_starts, axis=1)
        if co.service_periods < T:
            active[:, co.service_periods:] -= np.cumsum(c.engaged_starts, axis=1)[:, : T - co.service_periods]
        var = var + col(ppp) * active
    out += col(value(co.multiplier, params, 1.0)) * var
    return out


def discount_factors(rate_annual: float, periods_per_year: int, T: int) -> np.ndarray:
    """(T,) factors to the start of period 0 for cash at the end of each period."""
    rp = (1 + rate_annual) ** (1 / periods_per_year) - 1
    return (1 + rp) ** -np.arange(1, T + 1)
