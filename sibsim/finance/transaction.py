"""Transaction costs: what it costs each party to put a contract together and run it (docs/model.md).

A scenario's ``finance.transaction_costs`` lists costs by party (commissioner,
outcomes fund, provider, investor, intermediary) and finance model: one-off
development costs (legal, structuring, evaluation design, due diligence) and
recurring costs (contract and performance management, evaluation, investor
monitoring). :func:`add_transaction_costs` adds them to one model's
:class:`CashFlows` in one place, before the provider's account is applied, so
they reach every metric that reads a party's cash: the commissioner's and the
fund's cost and value for money, the provider's surplus, working capital and
insolvency, investors' returns, the intermediary's income. The costs are paid
to the outside world (the ``delivery`` party: staff, suppliers, advisers), so
cash stays conserved.

Per model it reports ``transaction_costs`` (all parties, nominal) and
``transaction_costs_<party>`` for each party named in the scenario's list
(zero under a model the cost does not apply to), so every model has the same
names.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..cohorts import col, value
from .cashflows import CashFlows


def cost_flows(tc, params, *, n: int, T: int) -> np.ndarray:
    """(n, T) payments of one :class:`~sibsim.spec.finance.TransactionCost` (positive = paid)."""
    out = np.zeros((n, T))
    if tc.one_off is not None:
        out[:, tc.period] += value(tc.one_off, params)
    if tc.per_period is not None:
        a, b = tc.periods if tc.periods is not None else (0, T - 1)
        out[:, a:b + 1] += col(value(tc.per_period, params))
    return out


def add_transaction_costs(cf: CashFlows, sc, params, *, model: str) -> CashFlows:
    """``cf`` with the scenario's transaction costs under ``model`` paid by each party to ``delivery``."""
    items = sc.finance.transaction_costs or ()
    if not items:
        return cf
    n, T = cf["commissioner"].shape
    flows = dict(cf.flows)
    totals = {tc.party: np.zeros(n) for tc in items}
    for tc in items:
        if model not in tc.applies_to:
            continue
        x = cost_flows(tc, params, n=n, T=T)
        flows[tc.party] = flows[tc.party] - x
        flows["delivery"] = flows["delivery"] + x
        totals[tc.party] += x.sum(axis=1)
    extra = dict(cf.extra)
    extra["transaction_costs"] = sum(totals.values())
    extra.update({f"transaction_costs_{p}": v for p, v in totals.items()})
    return replace(cf, flows=flows, extra=extra)
