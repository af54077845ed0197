"""Finance models: who pays delivery costs, who bears the risk (MODEL.md s.5).

Every model is a small function from the same delivery costs and outcome
payments (one set of draws: common random numbers) to a :class:`CashFlows`;
:func:`evaluate` runs the scenario's own model and any others asked for, and
turns each one's cash flows into per-trial metrics. The scenario's own model
reports under plain names (``investor_irr``); the others under their own
prefix (``pbr.provider_min_cash``).
"""

from __future__ import annotations

import numpy as np

from ..cohorts import value
from .cashflows import CashFlows, discount_factors
from .irr import annualise, irr
from .sib import sib


def _sib(sc, params, costs, payments) -> CashFlows:
    s = sc.finance.sib
    cap = value(s.return_cap_annual, params, None) if s.return_cap_annual is not None else None
    cap_p = None if cap is None else (1 + cap) ** (1 / sc.periods_per_year) - 1
    return sib(
        costs=costs, payments=payments,
        payer_share=1 - np.clip(value(sc.rate_card.co_payer_share, params), 0, 1),
        commitment=None if s.capital_commitment is None else value(s.capital_commitment, params),
        upfront=s.drawdown == "upfront",
        fee_per_period=value(s.management_fee_per_period, params),
        return_cap_per_period=cap_p,
        excess_to=s.excess_to,
        guarantee_share=np.clip(value(s.guarantee_share, params), 0, 1),
    )


MODELS = {"sib": _sib}


def cash_metrics(sc, cf: CashFlows) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-trial metrics of each party's cash under one finance model."""
    disc = discount_factors(sc.discount_rate_annual, sc.periods_per_year, sc.horizon_periods)
    inv = cf["investor"]
    draws = cf.extra.get("investor_drawdowns", np.maximum(-inv, 0).sum(axis=1))
    inflow = inv.sum(axis=1) + draws
    comm = -cf["commissioner"]
    prov_cash = np.cumsum(cf["provider"], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = {
            "investor_drawdowns": draws,
            "investor_distributions": cf.extra.get("investor_distributions", inflow),
            "investor_net_gain": inv.sum(axis=1),
            "investor_moic": np.where(draws > 0, inflow / draws, np.nan),
            "investor_irr": annualise(irr(inv), sc.periods_per_year),
            "commissioner_cost": comm.sum(axis=1),
            "commissioner_cost_pv": comm @ disc,
            "outcome_fund_cost": -cf["outcome_fund"].sum(axis=1),
            "guarantee_paid": cf.extra.get("guarantee_paid", np.zeros(inv.shape[0])),
            "provider_surplus": prov_cash[:, -1],
            "provider_min_cash": np.minimum(prov_cash.min(axis=1), 0.0),
        }
    ind = {"investor_loss": m["investor_net_gain"] < 0, "provider_shortfall": m["provider_min_cash"] < 0}
    return m, ind


def evaluate(sc, params, *, costs: np.ndarray, payments: np.ndarray, models=None):
    """Run the scenario's finance model and ``models`` on the same costs and payments.

    Returns (metrics, indicators, flows): flows are the scenario's own model's
    CashFlows.
    """
    own = sc.finance.model
    names = [own] + [m for m in (models or ()) if m != own]
    metrics, indicators, flows = {}, {}, None
    for name in names:
        cf = MODELS[name](sc, params, costs, payments)
        m, ind = cash_metrics(sc, cf)
        prefix = "" if name == own else f"{name}."
        metrics.update({prefix + k: v for k, v in m.items()})
        indicators.update({prefix + k: v for k, v in ind.items()})
        if name == own:
            flows = cf
    return metrics, indicators, flows
