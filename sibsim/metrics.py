"""Per-trial metrics (docs/model.md s.10) and their summaries with Monte Carlo errors.

Per-trial metrics are ``(n,)`` float64 arrays keyed by name; indicators
(``investor_loss``, ``any_payment``, ...) are ``(n,)`` bool arrays whose means
are probabilities. Summaries give mean, sd, the Monte Carlo standard error of
the mean, P5/P50/P95 and the count of undefined (NaN) values.
"""

from __future__ import annotations

import numpy as np

from .finance.cashflows import discount_factors, present_value
from .payments import Payments

SUMMARY_STATS = ("mean", "std", "mcse", "p5", "p50", "p95", "nan")


def per_trial(sc, *, params: dict[str, np.ndarray], pay: Payments, costs: np.ndarray, starts: np.ndarray,
              engaged_starts: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Participant, outcome, payment and cost metrics for one chunk (finance metrics: sibsim.finance)."""
    disc = discount_factors(sc.discount_rate_annual, sc.periods_per_year, sc.horizon_periods)
    paid = pay.treated.sum(axis=1)
    paid_cf = pay.counterfactual.sum(axis=1)
    # additional outcomes: more of an outcome to increase, fewer of one to reduce (outcomes avoided)
    sign = np.array([1.0 if o.direction == "increase" else -1.0 for o in sc.outcomes])
    additional = (pay.outcomes_tr - pay.outcomes_cf) * sign
    add_total = additional.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = {
            "participants": starts.sum(axis=1),
            "engaged": engaged_starts.sum(axis=1),
            "outcome_payments": paid,
            "outcome_payments_pv": present_value(pay.treated, disc),
            "counterfactual_payments": paid_cf,
            "deadweight_share": np.where(paid > 0, paid_cf / paid, np.nan),
            "cost_per_additional_outcome": np.where(add_total > 0, paid / add_total, np.nan),
            "delivery_cost": costs.sum(axis=1),
            "delivery_cost_pv": present_value(costs, disc),
        }
    for k, o in enumerate(sc.outcomes):
        m[f"outcomes.{o.name}"] = pay.outcomes_tr[:, k]
        m[f"counterfactual_outcomes.{o.name}"] = pay.outcomes_cf[:, k]
        m[f"additional_outcomes.{o.name}"] = additional[:, k]
    ind = {"any_payment": paid > 0}
    if sc.rate_card.cap_total is not None:
        from .cohorts import value

        ind["contract_cap_reached"] = paid >= value(sc.rate_card.cap_total, params) - 1e-6
    return m, ind


def summarise(x: np.ndarray) -> dict[str, float]:
    """Mean, sd, Monte Carlo standard error, P5/P50/P95 and NaN count of one metric."""
    x = np.asarray(x, dtype=float)
    ok = x[~np.isnan(x)]
    nan = int(x.size - ok.size)
    if ok.size == 0:
        return dict(mean=np.nan, std=np.nan, mcse=np.nan, p5=np.nan, p50=np.nan, p95=np.nan, nan=nan)
    sd = float(ok.std(ddof=1)) if ok.size > 1 else 0.0
    p5, p50, p95 = np.percentile(ok, [5, 50, 95])
    return dict(mean=float(ok.mean()), std=sd, mcse=sd / np.sqrt(ok.size), p5=float(p5), p50=float(p50),
                p95=float(p95), nan=nan)


def probability(ind: np.ndarray) -> dict[str, float]:
    """Share of trials where an indicator holds, with its binomial standard error."""
    n = ind.size
    p = float(np.mean(ind)) if n else np.nan
    return {"p": p, "se": float(np.sqrt(p * (1 - p) / n)) if n else np.nan}
