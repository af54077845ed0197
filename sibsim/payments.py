"""What the outcome payer owes under a rate card (docs/model.md s.5).

``price_k`` for each achieved outcome, paid ``payment_lag_periods`` after
achievement; payments due after the horizon are not made. Caps apply in this
order:

1. per participant, across outcomes, in payment order (ties within a period in
   the scenario's outcome order): a payment is cut to what is left under the cap
   (done in the participant pass, sibsim.kernel);
2. per outcome volume: at most ``cap_per_outcome[k]`` payments for k, counting
   only payments still above zero after step 1, in order of payment period; in
   the period that crosses the limit, each of that period's payments for k is
   scaled by (places left) / (payments in the period); later ones are not paid;
3. contract total: payments stop once cumulative payments reach the cap, the
   payment that crosses it cut to fit.

The same contract is applied to the counterfactual world, giving what would
have been paid had nobody been treated (deadweight).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cohorts import Cohort, col, value
from .spec.model import Scenario


@dataclass
class Payments:
    """Outcome payments by period, both worlds.

    treated, counterfactual: (n, T) currency per period after every cap
    outcomes_tr, outcomes_cf: (n, K) outcomes achieved by the end of the horizon
    """

    treated: np.ndarray
    counterfactual: np.ndarray
    outcomes_tr: np.ndarray
    outcomes_cf: np.ndarray


def _cap_cumulative(x: np.ndarray, cap) -> np.ndarray:
    """Cut a (n, T) flow so its running total never exceeds ``cap`` (scalar or (n,))."""
    cum = np.minimum(np.cumsum(x, axis=1), col(cap))
    return np.diff(cum, axis=1, prepend=0.0)


def _volume_capped(amount: np.ndarray, count: np.ndarray, vcap: int) -> np.ndarray:
    """Scale (n, T+1) payments for one outcome so at most ``vcap`` are paid.

    ``count``: the number of non-zero payments in each period (after the per-participant cap).
    """
    before = np.cumsum(count, axis=1) - count
    allowed = np.clip(vcap - before, 0, None)
    frac = np.divide(allowed, count, out=np.ones_like(count), where=count > allowed)
    return amount * frac


def rate_card(sc: Scenario, params: dict[str, np.ndarray], c: Cohort) -> Payments:
    """Apply volume caps, the horizon and the contract cap to the cohort's per-participant-capped payments."""
    rc = sc.rate_card
    T = sc.horizon_periods
    result = {}
    for world, amount, count in (("tr", c.amount_tr, c.count_tr), ("cf", c.amount_cf, c.count_cf)):
        by_period = np.zeros(amount.shape[::2])
        for k, o in enumerate(sc.outcomes):
            vcap = rc.cap_per_outcome.get(o.name)
            by_period += amount[:, k] if vcap is None else _volume_capped(amount[:, k], count[:, k], vcap)
        by_period = by_period[:, :T]
        if rc.cap_total is not None:
            by_period = _cap_cumulative(by_period, value(rc.cap_total, params))
        result[world] = by_period
    return Payments(result["tr"], result["cf"], c.achieved_tr, c.achieved_cf)
