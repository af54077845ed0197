"""Early termination: the contract stops at the end of a period (docs/model.md s.8.3).

``termination.at_period``, or the payment period of the first point listed in
``termination.on_failed_points`` whose trigger is not met (measured in
:mod:`sibsim.measure`, which also drops that world's measured payments after
it), ends the contract at ``t_end`` (per trial; ``T - 1`` when it runs its
course). After ``t_end`` no delivery cost falls and no outcome payment is
made, in either world (the counterfactual world's payments are cut at the
treated world's ``t_end``: the contract as it ran). The SIB settles at
``t_end`` (:func:`sibsim.finance.sib.sib`, ``settle_period``). Outcome
counts are not cut: they record what participants achieve, not what is paid.

New York Rikers Island (MDRC, "Social Impact Bond project at Rikers Island"):
the year-3 result showed no effect and the contract stopped in August 2015,
USD 7.2m of the 9.6m loan drawn.
"""

from __future__ import annotations

import numpy as np

from .payments import Payments


def contract_end(sc, n: int, measured: dict) -> np.ndarray:
    """(n,) last period of the contract: the measured one if the measurement set it, else ``at_period``."""
    T = sc.horizon_periods
    if "termination_period" in measured:
        return measured["termination_period"].astype(np.int64)
    at = sc.termination.at_period
    return np.full(n, T - 1 if at is None else min(at, T - 1), dtype=np.int64)


def stop(sc, end: np.ndarray, pay: Payments, costs: np.ndarray) -> tuple[Payments, np.ndarray, dict, dict]:
    """Costs and payments with everything after each trial's ``end`` removed; metrics and indicators."""
    T = sc.horizon_periods
    live = np.arange(T)[None, :] <= end[:, None]
    cut = Payments(np.where(live, pay.treated, 0.0), np.where(live, pay.counterfactual, 0.0),
                   pay.outcomes_tr, pay.outcomes_cf)
    metrics = {"termination_period": end.astype(float)}
    indicators = {"terminated_early": end < T - 1}
    return cut, np.where(live, costs, 0.0), metrics, indicators
