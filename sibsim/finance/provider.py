"""The provider's bank account: reserves, an overdraft and insolvency (docs/model.md s.9).

Applied after every finance model, so the same provider is compared under
each. The provider starts with ``reserves``; each period its balance moves by
its net cash from the contract, less interest on an overdrawn balance
(charged for the period on the balance at the end of the one before, paid to
the ``lender``). It is insolvent if the balance ever falls below
``-overdraft_limit``. The run does not stop delivery at insolvency (outcomes
are common to every model); the indicator marks trials in which the provider
could not have carried on, and the balance continues as if the bank
extended the overdraft at the same rate.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .cashflows import CashFlows

RESERVE_MONTHS = 3.0
OVERDRAFT_MONTHS = 3.0
OVERDRAFT_RATE_ANNUAL = 0.08


def months_of_cost(costs: np.ndarray, months: float, periods_per_year: int) -> np.ndarray:
    """(n,) ``months`` of each trial's average delivery cost per period, over periods with any cost."""
    active = np.maximum((costs > 0).sum(axis=1), 1)
    return costs.sum(axis=1) / active * months * periods_per_year / 12.0


def provider_account(cf: CashFlows, *, reserves, overdraft_limit, rate_per_period) -> CashFlows:
    """``cf`` with overdraft interest paid by the provider to the lender, and balance metrics in ``extra``.

    reserves, overdraft_limit, rate_per_period: scalars or (n,). Adds to ``extra``:
    provider_min_cash (the lowest running total of its contract cash before interest, at most 0),
    provider_min_balance (reserves plus the lowest running balance, after interest),
    provider_peak_overdraft, overdraft_interest, and the ``insolvency`` indicator
    (min balance below ``-overdraft_limit``).
    """
    flows = cf["provider"]
    n, T = flows.shape
    rate = np.broadcast_to(np.asarray(rate_per_period, dtype=float), (n,))
    balance = np.broadcast_to(np.asarray(reserves, dtype=float), (n,)).copy()
    lowest = balance.copy()
    interest = np.zeros((n, T))
    for t in range(T):
        interest[:, t] = rate * np.maximum(-balance, 0.0)
        balance += flows[:, t] - interest[:, t]
        np.minimum(lowest, balance, out=lowest)
    new = dict(cf.flows)
    new["provider"] = flows - interest
    new["lender"] = cf["lender"] + interest
    limit = np.broadcast_to(np.asarray(overdraft_limit, dtype=float), (n,))
    extra = dict(cf.extra)
    extra.update(provider_min_cash=np.minimum(np.cumsum(flows, axis=1).min(axis=1), 0.0),
                 provider_min_balance=lowest, provider_peak_overdraft=np.maximum(-lowest, 0.0),
                 overdraft_interest=interest.sum(axis=1), insolvency=lowest < -limit)
    return replace(cf, flows=new, extra=extra)
