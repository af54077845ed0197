"""The Social Impact Bond: investors fund delivery and are repaid from outcome payments.

MODEL.md s.5. Investors commit capital ``C`` (unlimited if not given) and draw
it down as costs and the intermediary's fee fall (or all of it up front, the
unspent part returned at the horizon). Outcome payments go to investors up to
a return cap (an annual rate: distributions stop once drawdowns have been
repaid with that return); the excess goes to the commissioner (a refund) or
the provider. A guarantor repays a share ``g`` of investors' principal loss
at the horizon (the Rikers Island structure). If costs outrun the commitment
the provider bears the shortfall.
"""

from __future__ import annotations

import numpy as np

from .cashflows import CashFlows


def _capped_distributions(payments: np.ndarray, drawdowns: np.ndarray, rate_per_period) -> np.ndarray:
    """Distributions that repay drawdowns with at most ``rate_per_period`` compound return.

    A loop over periods only: the balance owed carries forward (STYLE.md rule 4).
    """
    n, T = payments.shape
    rate = np.broadcast_to(np.asarray(rate_per_period, dtype=float), (n,))
    owed = np.zeros(n)
    dist = np.zeros_like(payments)
    for t in range(T):
        owed = owed * (1 + rate) + drawdowns[:, t]
        d = np.minimum(payments[:, t], np.maximum(owed, 0.0))
        owed -= d
        dist[:, t] = d
    return dist


def sib(*, costs: np.ndarray, payments: np.ndarray, payer_share: np.ndarray | float,
        commitment=None, upfront: bool = False, fee_per_period=0.0, return_cap_per_period=None,
        excess_to: str = "commissioner", guarantee_share=0.0) -> CashFlows:
    """Cash flows of a SIB for ``(n, T)`` delivery ``costs`` and outcome ``payments``.

    ``payer_share`` is the local commissioner's share of each outcome payment;
    the rest is paid by a central outcomes fund.
    """
    n, T = costs.shape
    col = lambda x: x[:, None] if isinstance(x, np.ndarray) else x  # noqa: E731
    fee = np.broadcast_to(col(fee_per_period), (n, T)).astype(float)
    needs = costs + fee
    if upfront:
        if commitment is None:
            raise ValueError("finance.sib.drawdown: 'upfront' needs a capital_commitment")
        drawdowns = np.zeros((n, T))
        drawdowns[:, 0] = commitment
        spent = np.minimum(np.cumsum(needs, axis=1), col(commitment))
        returned = np.zeros((n, T))
        returned[:, -1] = commitment - spent[:, -1]
    else:
        drawdowns = needs if commitment is None else np.diff(
            np.minimum(np.cumsum(needs, axis=1), col(commitment)), axis=1, prepend=0.0)
        returned = np.zeros((n, T))
    if return_cap_per_period is None:
        dist = payments.copy()
    else:
        dist = _capped_distributions(payments, drawdowns - returned, return_cap_per_period)
    excess = payments - dist
    principal = drawdowns.sum(axis=1) - returned.sum(axis=1)
    loss = np.maximum(principal - dist.sum(axis=1), 0.0)
    guarantee = np.zeros((n, T))
    guarantee[:, -1] = np.broadcast_to(guarantee_share, (n,)) * loss
    share = col(payer_share)
    flows = {
        "investor": -drawdowns + returned + dist + guarantee,
        "commissioner": -share * payments + (excess if excess_to == "commissioner" else 0.0),
        "outcome_fund": -(1 - share) * payments,
        "provider": drawdowns - returned - costs - fee + (excess if excess_to == "provider" else 0.0),
        "intermediary": fee,
        "guarantor": -guarantee,
        "delivery": costs,
    }
    return CashFlows(flows, {
        "investor_drawdowns": drawdowns.sum(axis=1) - returned.sum(axis=1),
        "investor_distributions": dist.sum(axis=1),
        "guarantee_paid": guarantee.sum(axis=1),
        "excess_payments": excess.sum(axis=1),
    })
