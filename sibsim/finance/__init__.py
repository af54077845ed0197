"""Finance models: who pays delivery costs, who bears the risk (docs/model.md s.8-10; docs/finance.md).

Every model is a small function from the same delivery costs and outcome
payments (one set of draws: common random numbers) to a :class:`CashFlows`
(:mod:`.sib`; :mod:`.direct` for ``pbr``, ``fee`` and ``hybrid``); the
provider's bank account (:mod:`.provider`) is applied after each, and
:func:`cash_metrics` turns any model's cash flows into per-trial metrics.
:func:`evaluate` runs the scenario's own model and any others asked for: the
result of each is a set of per-trial outputs under plain names
(``investor_irr``), declared in :mod:`sibsim.outputs` (investor outputs only
for models with investors). Given the run's outcomes and an appraisal it adds
value for money and the acceptability-curve indicators (:mod:`.appraisal`).
"""

from __future__ import annotations

import numpy as np

from ..cohorts import value
from ..outputs import has_investors
from . import appraisal as _vfm
from .cashflows import PARTIES, CashFlows, discount_factors, present_value
from .direct import fee, hybrid, pbr
from .irr import annualise, irr
from .provider import OVERDRAFT_MONTHS, OVERDRAFT_RATE_ANNUAL, RESERVE_MONTHS, months_of_cost, provider_account
from .sib import sib, sib_guarantee
from .transaction import add_transaction_costs

__all__ = ["MODELS", "PARTIES", "CashFlows", "cash_metrics", "evaluate", "fee", "hybrid", "model_flows", "pbr", "sib", "wanted"]


def _per_period(rate_annual, periods_per_year: int):
    return (1 + rate_annual) ** (1 / periods_per_year) - 1


def _payer_share(sc, params):
    """The local commissioner's share of each outcome payment (the rest: the outcomes fund)."""
    return 1 - np.clip(value(sc.rate_card.co_payer_share, params), 0, 1)


def _cols(values, n: int) -> np.ndarray:
    """Per-tranche terms (each a float or (n,)) as (n, J)."""
    return np.column_stack([np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in values])


def _sib(sc, params, costs, payments, end_period=None) -> CashFlows:
    s = sc.finance.sib
    n, ppy = costs.shape[0], sc.periods_per_year
    guarantee = sib_guarantee(sc, params, n, end_period)
    if s.tranches:
        ts = s.tranches
        terms = dict(
            principal=_cols([value(t.principal, params) for t in ts], n),
            coupon_per_period=_cols([np.nan if t.coupon_annual is None else
                                     _per_period(value(t.coupon_annual, params), ppy) for t in ts], n),
            guarantee_share=_cols([value(s.guarantee_share if t.guarantee_share is None else t.guarantee_share,
                                         params) * guarantee["share_scale"]
                                   + (guarantee["share_floor"] if t.guarantee_share is None else 0.0) for t in ts], n),
            holders=tuple(t.holder for t in ts), names=tuple(t.name for t in ts))
    else:  # one tranche: the whole commitment, return_cap_annual as its coupon
        terms = dict(
            principal=_cols([np.inf if s.capital_commitment is None else value(s.capital_commitment, params)], n),
            coupon_per_period=_cols([np.nan if s.return_cap_annual is None else
                                     _per_period(value(s.return_cap_annual, params), ppy)], n),
            guarantee_share=_cols([value(s.guarantee_share, params)], n) * guarantee["share_scale"][:, None]
            + guarantee["share_floor"][:, None])
    return sib(costs=costs, payments=payments, payer_share=_payer_share(sc, params), drawdown=s.drawdown,
               schedule=s.drawdown_schedule, fee_per_period=value(s.management_fee_per_period, params),
               intermediary_fee_share=value(s.intermediary_fee_share, params),
               pass_through_share=value(s.pass_through_share, params, 1.0), excess_to=s.excess_to,
               recycle_until=s.recycle_until_period, guarantee_amount=guarantee["amount"],
               settle_period=end_period, **terms)


def _margin(sc, params):
    return value(sc.finance.fee.margin, params) if sc.finance.fee is not None else 0.0


def _hybrid(sc, params, costs, payments) -> CashFlows:
    h = sc.finance.hybrid.fee_share if sc.finance.hybrid is not None else 0.5
    return hybrid(costs=costs, payments=payments, payer_share=_payer_share(sc, params),
                  fee_share=np.clip(value(h, params), 0, 1), margin=_margin(sc, params))


def _pbr(sc, params, costs, payments) -> CashFlows:
    return pbr(costs=costs, payments=payments, payer_share=_payer_share(sc, params))


def _fee(sc, params, costs, payments) -> CashFlows:
    return fee(costs=costs, payer_share=_payer_share(sc, params), margin=_margin(sc, params))


MODELS = {"sib": _sib, "pbr": _pbr, "fee": _fee, "hybrid": _hybrid}


def model_flows(name: str, sc, params, *, costs: np.ndarray, payments: np.ndarray, end_period=None) -> CashFlows:
    """One model's cash flows, its transaction costs added and the provider's account applied."""
    cf = (MODELS[name](sc, params, costs, payments) if end_period is None or name != "sib" else
          _sib(sc, params, costs, payments, end_period))  # early termination: the SIB settles at end_period
    cf = add_transaction_costs(cf, sc, params, model=name)
    p = sc.finance.provider
    ppy = sc.periods_per_year

    def term(field, months):
        v = getattr(p, field) if p is not None else None
        return months_of_cost(costs, months, ppy) if v is None else value(v, params)

    rate = (p.overdraft_rate_annual if p is not None else None)
    rate = OVERDRAFT_RATE_ANNUAL if rate is None else value(rate, params)
    return provider_account(cf, reserves=term("reserves", RESERVE_MONTHS),
                            overdraft_limit=term("overdraft_limit", OVERDRAFT_MONTHS),
                            rate_per_period=_per_period(rate, ppy))


def _holding(flows: np.ndarray, draws: np.ndarray, ppy: int) -> dict[str, np.ndarray]:
    gain = flows.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"net_gain": gain, "moic": np.where(draws > 0, (gain + draws) / draws, np.nan),
                "irr": annualise(irr(flows), ppy)}


def cash_metrics(sc, cf: CashFlows, *, model: str = "sib", additional=None,
                 deadweight=None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-trial metrics of each party's cash under one finance model (names: :mod:`sibsim.outputs`).

    ``cf`` has been through the provider's account (:func:`model_flows`).
    Investors (only for models with investors, ``outputs.HAS_INVESTORS``):
    drawdowns (net of unspent capital returned), distributions, net gain,
    multiple of money, annual IRR, peak capital (the most they had in at once,
    net of what they had been paid); the same per tranche
    (``investor_senior_irr``). Payers: cost, nominal and present value; the
    public cost (commissioner plus outcomes fund) and, given ``additional``
    ((n,) additional outcomes) and ``deadweight`` ((n,) share of rate-card
    payments owed for deadweight outcomes), the public cost per additional
    outcome and the deadweight paid. Provider: surplus (after overdraft
    interest) and the account's balances (:func:`.provider.provider_account`).
    Indicators: investor_loss, provider_shortfall (min cash below 0),
    insolvency (min balance below minus the overdraft limit).
    """
    T = cf["investor"].shape[1]
    ppy = sc.periods_per_year
    disc = discount_factors(sc.discount_rate_annual, ppy, T)
    public = -(cf["commissioner"] + cf["outcome_fund"])
    m = {
        "commissioner_cost": 0.0 - cf["commissioner"].sum(axis=1),  # 0.0 - x: no -0.0 in reports
        "commissioner_cost_pv": 0.0 - present_value(cf["commissioner"], disc),
        "outcome_fund_cost": 0.0 - cf["outcome_fund"].sum(axis=1),
        "outcome_fund_cost_pv": 0.0 - present_value(cf["outcome_fund"], disc),
        "public_cost": public.sum(axis=1),
        "provider_surplus": cf["provider"].sum(axis=1),
    }
    if additional is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            m["public_cost_per_additional_outcome"] = np.where(additional > 0, m["public_cost"] / additional, np.nan)
    if deadweight is not None:  # outcome payments made (public cost less fees and transaction costs) x deadweight
        fees = 0.0 - cf.parts.get("commissioner.fee", np.zeros_like(public)).sum(axis=1)
        fees = fees + sum(cf.extra.get(f"transaction_costs_{p}", 0.0) for p in ("commissioner", "outcome_fund"))
        m["deadweight_paid"] = np.maximum(m["public_cost"] - fees, 0.0) * deadweight
    ind = {}
    investors = has_investors(model)
    if investors:
        inv = cf["investor"]
        draws = cf.extra.get("investor_drawdowns", np.maximum(-inv, 0).sum(axis=1))
        m.update({f"investor_{k}": v for k, v in _holding(inv, draws, ppy).items()})
        dist = cf.extra.get("investor_distributions", inv.sum(axis=1) + draws)
        with np.errstate(divide="ignore", invalid="ignore"):  # outcome payments alone, the guarantee apart
            m["investor_moic_ex_guarantee"] = np.where(draws > 0, dist / draws, np.nan)
        m["investor_drawdowns"] = draws
        m["investor_distributions"] = dist
        m["investor_peak_capital"] = np.maximum(np.cumsum(-inv, axis=1).max(axis=1), 0.0)
        m["intermediary_income"] = cf["intermediary"].sum(axis=1)
        ind["investor_loss"] = m["investor_net_gain"] < 0
    for k, v in cf.extra.items():  # the model's own (sib: guarantee, tranches) and the provider's account
        if k.startswith("investor_") and not investors:
            continue
        (ind if v.dtype == bool else m).setdefault(k, v)
    for part, flows in cf.parts.items():
        holder, _, name = part.partition(".")
        if holder in ("investor", "provider") and (investors or holder == "provider"):
            pre = f"{holder}_{name}_"
            d = cf.extra[pre + "drawdowns"]
            for k, v in _holding(flows, d, ppy).items():
                m[pre + k] = v
            ind[pre + "loss"] = m[pre + "net_gain"] < -1e-9 * np.maximum(d, 1.0)
    if "provider_min_cash" in m:
        ind["provider_shortfall"] = m["provider_min_cash"] < -0.005  # half a penny: below that is rounding
    return m, ind


def wanted(sc, models=()) -> tuple[list[str], bool]:
    """(models to report, whether to draw acceptability curves): only what the scenario or caller asks.

    The scenario's own model always; the others named in ``models``. The
    acceptability indicators (and with them the fee-for-service comparison
    they need) only when the scenario has an ``appraisal`` section.
    """
    own = sc.finance.model
    return [own] + [m for m in dict.fromkeys(models or ()) if m != own], getattr(sc, "appraisal", None) is not None


def evaluate(sc, params, *, costs: np.ndarray, payments: np.ndarray, models=None, outcomes=None, end_period=None):
    """Run the scenario's finance model and ``models`` on the same costs and payments.

    ``outcomes`` (the run's :class:`~sibsim.payments.Payments`, or anything
    with ``outcomes_tr``, ``outcomes_cf`` and ``counterfactual``): adds the
    public cost per additional outcome and the deadweight paid to each model
    and, when the scenario has an appraisal, value-for-money metrics and the
    shared ``vfm.*`` acceptability indicators (see
    :mod:`sibsim.finance.appraisal`). Returns ``(per_model, shared_indicators,
    flows)``: ``per_model`` is ``name -> (metrics, indicators)`` under plain
    names, the scenario's own model first; flows are its CashFlows.
    """
    names, appraise = wanted(sc, models)
    own = names[0]
    flows = {name: model_flows(name, sc, params, costs=costs, payments=payments, end_period=end_period)
             for name in names}
    additional = deadweight = None
    if outcomes is not None:
        sign = np.array([1.0 if o.direction == "increase" else -1.0 for o in sc.outcomes])
        additional = ((np.asarray(outcomes.outcomes_tr, float) - np.asarray(outcomes.outcomes_cf, float))
                      * sign).sum(axis=1)
        if getattr(outcomes, "counterfactual", None) is not None:
            owed = np.asarray(payments, float).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                deadweight = np.where(owed > 0, np.minimum(outcomes.counterfactual.sum(axis=1) / owed, 1.0), 0.0)
    shared_ind, vfm = {}, {}
    if outcomes is not None:  # value-for-money metrics of the reported models (cheap: no other model needed)
        counted, value_pv = _vfm.outcome_benefits(sc, params, outcomes, payments)
        for name in names:
            vfm[name] = _vfm.vfm_metrics(sc, params, flows[name], model=name, counted=counted, value_pv=value_pv)
        if appraise:  # the acceptability curve compares with fee for service: only when an appraisal asks
            ours = own if own != "fee" else "sib"
            for name in (ours, "fee"):
                if name not in flows:  # needed for the comparison only: not reported
                    flows[name] = model_flows(name, sc, params, costs=costs, payments=payments, end_period=end_period)
                    vfm[name] = _vfm.vfm_metrics(sc, params, flows[name], model=name, counted=counted,
                                                 value_pv=value_pv)
            shared_ind.update(_vfm.acceptability_indicators(sc, model=ours, ours=vfm[ours], fee=vfm["fee"]))
    per_model = {}
    for name in names:
        m, ind = cash_metrics(sc, flows[name], model=name, additional=additional, deadweight=deadweight)
        m.update(vfm.get(name, {}))
        per_model[name] = (m, ind)
    return per_model, shared_ind, flows[own]
