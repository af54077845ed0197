"""Value for money: what additional outcomes are worth, what they cost the public sector (docs/model.md s.11).

HM Treasury Green Book conventions. The financial case is nominal
(``commissioner_cost``, ``outcome_fund_cost``); the economic case discounts
at the appraisal's rate (default: the scenario's, 3.5% a year) and uplifts
cost-reimbursing payments (fees) by the optimism bias. Outcome payments are
not uplifted: their uncertainty is what the simulation draws, and a cost
overrun falls on whoever funds delivery (investors, the provider), not on the
commissioner. The public sector is the local commissioner and the outcomes
fund together.

Per finance model, per trial:

- ``additional_outcomes_counted``: additional outcomes (treated minus
  counterfactual; for ``reduce`` outcomes, counterfactual minus treated) over
  ``effect_outcomes``, times the model's effect share;
- ``value_of_additional_outcomes_pv``: the same outcomes times
  ``value_per_outcome``, discounted as if they accrued with the timing of the
  trial's outcome payments less the payment lag (an approximation: the engine
  reports outcomes as totals);
- ``public_cost_pv`` (discounted, with optimism bias; the nominal ``public_cost``
  is reported for every model by :func:`sibsim.finance.cash_metrics`);
- ``commissioner_npv`` = value - public cost, present values;
- ``cost_per_additional_outcome_pv`` = public_cost_pv / additional outcomes counted.

The effect share: on common draws the additional outcomes are the same
under every model, so SIB and fee for service would differ only in cost, and
the probability that one is better value would not depend on willingness to
pay. ``fee_effect_share`` (a) is the share of the effect a provider keeps
without outcome-based payment, an assumption the user sets (default 1). A
SIB or direct payment by results keeps all of it; a fee keeps a; a hybrid
with fee share h keeps ``a + (1 - a)(1 - h)``.

Acceptability (the data of a cost-effectiveness acceptability curve): for
each willingness to pay ``w`` per additional outcome in ``wtp_grid``, the net
benefit of a model is ``w * outcomes_counted - public_cost_pv``
(:func:`sibsim.decision.net_benefit`, shared with value of information); the
indicators ``vfm.<m>_better_than_fee@<w>``, ``vfm.<m>_better_than_nothing@<w>``
and ``vfm.fee_better_than_nothing@<w>`` (``m``: the scenario's own
outcome-based model, ``sib`` if its own model is the fee) have the
probabilities as their means; ``vfm.<m>_better_than_fee`` compares the
commissioner NPVs at the appraisal's values. :func:`acceptability` reads them
back from a Run as a table.
"""

from __future__ import annotations

import numpy as np

from ..cohorts import value
from ..decision import net_benefit
from ..outputs import wtp_label
from ..spec.finance import Appraisal
from .cashflows import CashFlows, discount_factors, present_value


def appraisal_of(sc) -> Appraisal:
    return getattr(sc, "appraisal", None) or Appraisal()


def effect_share(sc, params, model: str):
    """Share of the simulated effect kept under ``model`` (scalar or (n,))."""
    a = value(appraisal_of(sc).fee_effect_share, params)
    if model == "fee":
        return a
    if model == "hybrid":
        h = value((sc.finance.hybrid.fee_share if sc.finance.hybrid else 0.5), params)
        return a + (1 - a) * (1 - h)
    return 1.0


def outcome_benefits(sc, params, outcomes, payments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n,) additional outcomes counted and (n,) present value of all additional outcomes, at full effect.

    outcomes: anything with ``outcomes_tr`` and ``outcomes_cf``, (n, K) achieved by the horizon.
    payments: (n, T) outcome payments, whose timing stands for the outcomes' timing.
    """
    ap = appraisal_of(sc)
    n, T = payments.shape
    rate = sc.discount_rate_annual if ap.discount_rate_annual is None else ap.discount_rate_annual
    disc = discount_factors(rate, sc.periods_per_year, T)
    sign = np.array([1.0 if o.direction == "increase" else -1.0 for o in sc.outcomes])
    extra = (np.asarray(outcomes.outcomes_tr, float) - np.asarray(outcomes.outcomes_cf, float)) * sign
    counted = [o.name in ap.effect_outcomes if ap.effect_outcomes is not None else True for o in sc.outcomes]
    per = np.zeros((n, len(sc.outcomes)))
    for k, o in enumerate(sc.outcomes):
        per[:, k] = value(ap.value_per_outcome.get(o.name, 0.0), params)
    total = payments.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(total > 0, present_value(payments, disc) / total, disc[T // 2])
    rp = (1 + rate) ** (1 / sc.periods_per_year) - 1
    factor = factor * (1 + rp) ** sc.rate_card.payment_lag_periods
    return extra[:, counted].sum(axis=1), (extra * per).sum(axis=1) * factor


def vfm_metrics(sc, params, cf: CashFlows, *, model: str, counted: np.ndarray, value_pv: np.ndarray) -> dict:
    """Per-trial value-for-money metrics of one model's cash flows (see the module docstring)."""
    ap = appraisal_of(sc)
    T = cf["commissioner"].shape[1]
    rate = sc.discount_rate_annual if ap.discount_rate_annual is None else ap.discount_rate_annual
    disc = discount_factors(rate, sc.periods_per_year, T)
    public = -(cf["commissioner"] + cf["outcome_fund"])
    fees = -cf.parts.get("commissioner.fee", np.zeros_like(public))
    cost_pv = present_value(public, disc) + value(ap.optimism_bias, params) * present_value(fees, disc)
    e = effect_share(sc, params, model)
    outcomes = e * counted
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "additional_outcomes_counted": outcomes,
            "public_cost_pv": cost_pv,
            "cost_per_additional_outcome_pv": np.where(outcomes > 0, cost_pv / outcomes, np.nan),
        }
    if ap.value_per_outcome:  # an NPV needs values per outcome; without them it would be minus the cost
        out["value_of_additional_outcomes_pv"] = e * value_pv
        out["commissioner_npv"] = e * value_pv - cost_pv
    return out


def acceptability_indicators(sc, *, model: str, ours: dict, fee: dict) -> dict[str, np.ndarray]:
    """``vfm.*`` indicators comparing ``model`` (its vfm metrics ``ours``) with fee for service (``fee``)."""
    out = {}
    if "commissioner_npv" in ours:
        out[f"vfm.{model}_better_than_fee"] = ours["commissioner_npv"] > fee["commissioner_npv"]
    for w in sorted(appraisal_of(sc).wtp_grid):  # numeric order, whatever order the scenario gives
        nb_ours = net_benefit(w, outcomes=ours["additional_outcomes_counted"], cost_pv=ours["public_cost_pv"])
        nb_fee = net_benefit(w, outcomes=fee["additional_outcomes_counted"], cost_pv=fee["public_cost_pv"])
        lab = wtp_label(w)
        out[f"vfm.{model}_better_than_fee@{lab}"] = nb_ours > nb_fee
        out[f"vfm.{model}_better_than_nothing@{lab}"] = nb_ours > 0
        out[f"vfm.fee_better_than_nothing@{lab}"] = nb_fee > 0
    return out


def acceptability(run):
    """pandas DataFrame of the acceptability curves in a Run: one row per willingness to pay.

    Columns: ``wtp`` and, for each comparison (``sib_better_than_fee``, ...),
    the probability and its standard error (``<comparison>_se``).
    """
    import pandas as pd

    from ..outputs import match

    rows: dict[float, dict[str, float]] = {}
    for name, p in run.probabilities().items():
        found = match(name)
        if found is None or "wtp" not in found[1]:  # vfm.<comparison>@<wtp>, as declared
            continue
        comp, w = name.split(".", 1)[1].rsplit("@", 1)[0], float(found[1]["wtp"])
        row = rows.setdefault(w, {"wtp": w})
        row[comp], row[f"{comp}_se"] = p["p"], p["se"]
    return pd.DataFrame(sorted(rows.values(), key=lambda r: r["wtp"]))
