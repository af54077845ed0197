"""Per-trial metrics (MODEL.md s.6) and their summaries with Monte Carlo errors.

Per-trial metrics are ``(n,)`` float64 arrays keyed by name; indicators
(``investor_loss``, ``any_payment``, ...) are ``(n,)`` bool arrays whose means
are probabilities. Summaries give mean, sd, the Monte Carlo standard error of
the mean, P5/P50/P95 and the count of undefined (NaN) values.
"""

from __future__ import annotations

import numpy as np

from .finance.cashflows import CashFlows
from .finance.irr import annualise, irr
from .payments import Payments

SUMMARY_STATS = ("mean", "std", "mcse", "p5", "p50", "p95", "nan")


def discount_factors(rate_annual: float, periods_per_year: int, T: int) -> np.ndarray:
    """(T,) factors to the start of period 0 for cash at the end of each period."""
    rp = (1 + rate_annual) ** (1 / periods_per_year) - 1
    return (1 + rp) ** -np.arange(1, T + 1)


def per_trial(sc, *, params: dict[str, np.ndarray], pay: Payments, costs: np.ndarray, cf: CashFlows, starts: np.ndarray,
              engaged_starts: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Metrics and indicators for one chunk of trials."""
    disc = discount_factors(sc.discount_rate_annual, sc.periods_per_year, sc.horizon_periods)
    paid = pay.treated.sum(axis=1)
    paid_cf = pay.counterfactual.sum(axis=1)
    additional = pay.outcomes_tr - pay.outcomes_cf
    add_total = additional.sum(axis=1)
    inv = cf["investor"]
    draws = cf.extra["investor_drawdowns"]
    inflow = inv.sum(axis=1) + draws
    comm = -cf["commissioner"]
    prov_cash = np.cumsum(cf["provider"], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = {
            "participants": starts.sum(axis=1),
            "engaged": engaged_starts.sum(axis=1),
            "outcome_payments": paid,
            "outcome_payments_pv": pay.treated @ disc,
            "counterfactual_payments": paid_cf,
            "deadweight_share": np.where(paid > 0, paid_cf / paid, np.nan),
            "cost_per_additional_outcome": np.where(add_total > 0, paid / add_total, np.nan),
            "delivery_cost": costs.sum(axis=1),
            "delivery_cost_pv": costs @ disc,
            "investor_drawdowns": draws,
            "investor_distributions": cf.extra["investor_distributions"],
            "investor_net_gain": inv.sum(axis=1),
            "investor_moic": np.where(draws > 0, inflow / draws, np.nan),
            "investor_irr": annualise(irr(inv), sc.periods_per_year),
            "commissioner_cost": comm.sum(axis=1),
            "commissioner_cost_pv": comm @ disc,
            "outcome_fund_cost": -cf["outcome_fund"].sum(axis=1),
            "guarantee_paid": cf.extra["guarantee_paid"],
            "provider_surplus": prov_cash[:, -1],
            "provider_min_cash": np.minimum(prov_cash.min(axis=1), 0.0),
        }
    for k, o in enumerate(sc.outcomes):
        m[f"outcomes.{o.name}"] = pay.outcomes_tr[:, k]
        m[f"counterfactual_outcomes.{o.name}"] = pay.outcomes_cf[:, k]
        m[f"additional_outcomes.{o.name}"] = additional[:, k]
    ind = {
        "investor_loss": m["investor_net_gain"] < 0,
        "any_payment": paid > 0,
        "provider_shortfall": m["provider_min_cash"] < 0,
    }
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
