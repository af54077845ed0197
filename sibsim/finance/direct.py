"""Direct contracts: the commissioner pays the provider, with no investors in between.

docs/model.md s.8.2. One function covers three models:

- **hybrid**: a share ``h`` of delivery cost is paid as a fee as it falls
  (cost times ``1 + margin``), and outcome payments are the rate card scaled
  by ``1 - h``, at the provider's risk;
- **direct payment by results** (``pbr``): ``h = 0``; the provider funds every
  cost from its reserves and overdraft (:mod:`sibsim.finance.provider`) and is
  paid only for outcomes;
- **fee for service / grant** (``fee``): ``h = 1``; the commissioner pays cost
  plus margin and bears all the risk.

The outcomes fund pays its share of outcome payments only: under a fee it
pays nothing, and the local commissioner pays the whole fee.
"""

from __future__ import annotations

import numpy as np

from .cashflows import CashFlows, cash_flows


def _col(x):
    a = np.asarray(x, dtype=float)
    return a[:, None] if a.ndim else a


def hybrid(*, costs: np.ndarray, payments: np.ndarray, payer_share=1.0, fee_share=0.5, margin=0.0) -> CashFlows:
    """Cash flows when ``fee_share`` of cost is a fee and the rest is at risk on the rate card times ``1 - fee_share``.

    costs, payments: (n, T); payer_share: the local commissioner's share of
    outcome payments (the rest: the outcomes fund); fee_share, margin: scalars or (n,).
    """
    costs = np.asarray(costs, dtype=float)
    h, share = _col(fee_share), _col(payer_share)
    fee = h * costs * (1 + _col(margin))
    pay = (1 - h) * np.asarray(payments, dtype=float)
    return cash_flows(costs.shape, commissioner=-fee - share * pay, outcome_fund=-(1 - share) * pay,
                      provider=fee + pay - costs, delivery=costs, parts={"commissioner.fee": -fee})


def pbr(*, costs: np.ndarray, payments: np.ndarray, payer_share=1.0) -> CashFlows:
    """Direct payment by results: the provider is paid only for outcomes (``hybrid`` with no fee)."""
    return hybrid(costs=costs, payments=payments, payer_share=payer_share, fee_share=0.0)


def fee(*, costs: np.ndarray, payments: np.ndarray | None = None, payer_share=1.0, margin=0.0) -> CashFlows:
    """Fee for service or grant: cost times ``1 + margin`` as it falls (``hybrid`` with all fee)."""
    return hybrid(costs=costs, payments=np.zeros_like(costs) if payments is None else payments,
                  payer_share=payer_share, fee_share=1.0, margin=margin)
