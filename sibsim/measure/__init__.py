"""Payments on measured improvement, and the measurement risk they carry (docs/model.md s.6).

A scenario's ``measurement`` section (:mod:`sibsim.spec.measure`) says what is
measured, on which cohorts, against what, and what each measurement point pays.
:func:`add_measured` is the engine's one call: it simulates the measured
outcomes cohort by cohort (:mod:`.worlds`), measures each point in three worlds
on common random numbers, applies the payment rules (:mod:`.rules`) and adds
the payments to the rate card's, by period, before costs and finance.

The same measurement, with the same comparison-group draws and estimation
errors, is applied to

* the treated world: what is paid;
* the counterfactual world, where the true effect is zero by construction:
  its payments are added to the counterfactual payments (paid for nothing,
  like deadweight), and ``measurement.pay_when_no_effect`` (some measured
  payment made) is the commissioner's measurement risk;
* the target world, the effect among the engaged exactly at each measured
  outcome's ``target_effect``: ``measurement.no_pay_at_target`` (no measured
  payment) is the investor's measurement risk.

Both risks are averaged over the parameter priors (baseline level,
engagement, ...), as every probability of a run is.

Per point ``p`` (metrics): ``measurement.p.observed_rate`` (treated, per
person), ``measurement.p.comparison_rate``, ``measurement.p.measured_improvement``
(relative, in the beneficial direction), ``measurement.p.true_improvement``
(the cohort's realised improvement: its treated against its own
counterfactual outcomes, what a perfect measurement would find) and
``measurement.p.payment``; indicator ``measurement.p_triggered`` (the
measured result met the point's rule, before caps and deductions).
References: Peterborough (cohort and pooled triggers against a matched
comparison group) and Rikers Island (a payment schedule against a historical
baseline), as published (the scenarios' descriptions cite the sources); docs/measurement.md.
"""

from __future__ import annotations

import numpy as np

from ..cohorts import value
from ..payments import Payments
from . import rules
from .estimates import estimate_payments
from .worlds import ESTIMATE, comparison, cohort_totals, draws, exact_level, key

WORLDS = ("tr", "cf", "tg")

__all__ = ["add_measured", "measure", "rules"]


def _opt(x, params):
    return None if x is None else value(x, params)


def measure(sc, params, cohort, d) -> dict:
    """Measure every point in every world.

    Returns ``{"payments": {world: (n, T)}, "points": [{world: {rate, comparison, improvement,
    true, gross, paid}}], "has_target": bool}``; arrays ``(n,)`` per point.
    """
    m = sc.measurement
    n, T = d.n, sc.horizon_periods
    bounds = [c.start_periods for c in m.cohorts]
    cidx = {c.name: i for i, c in enumerate(m.cohorts)}
    totals, groups = {}, {}
    for mo in m.outcomes:
        totals[mo.name] = cohort_totals(sc, mo, params, cohort, d, bounds)
        groups[mo.name] = comparison(sc, mo, params, d, totals[mo.name])
    has_target = (all(totals[p.outcome].tg is not None for p in m.points)
                  and all(e.target_effect is not None for e in m.estimates))
    worlds = WORLDS if has_target else WORLDS[:2]
    est = estimate_payments(sc, params, d, worlds)  # plain impact estimates (s.6.5), settled with the points
    out = []
    for p in m.points:
        mo = next(o for o in m.outcomes if o.name == p.outcome)
        tot, C = totals[p.outcome], [cidx[c] for c in p.cohorts]
        size = tot.size[:, C].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = {w: np.where(size > 0, getattr(tot, w)[:, C].sum(axis=1) / size, np.nan) for w in worlds}
        if mo.design.kind == "estimate":  # each point has its own estimation error, the same in every world
            error = value(mo.design.se, params) * draws(d, key(ESTIMATE, p.name), "normal", np.zeros(n), np.ones(n))
        res = {}
        for w in worlds:
            if mo.design.kind == "estimate":  # centred on the cohort's own realised improvement
                imp, _ = rules.improvement(rate[w], rate["cf"], mo.direction)
                imp = imp + error
                r_c = rate["cf"]
                diff = imp * r_c
            else:
                g = groups[p.outcome]
                if g is None:
                    r_c = exact_level(mo, params, tot)
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        r_c = np.where(g[1][:, C].sum(axis=1) > 0,
                                       g[0][:, C].sum(axis=1) / g[1][:, C].sum(axis=1), np.nan)
                imp, diff = rules.improvement(rate[w], r_c, mo.direction)
            true, _ = rules.improvement(rate[w], rate["cf"], mo.direction)
            amount = rules.gross(imp, diff, size, trigger=value(p.trigger, params),
                                 price_per_unit=_opt(p.pay.price_per_unit, params), thresholds=p.pay.improvement,
                                 payments=p.pay.payment, interpolation=p.pay.interpolation)
            met = np.isfinite(imp) & (imp >= value(p.trigger, params))
            if p.pay.kind == "schedule":
                met &= imp >= p.pay.improvement[0]
            res[w] = {"rate": rate[w], "comparison": r_c, "improvement": imp, "true": true, "gross": amount,
                      "met": met}
        out.append(res)
    names = [p.name for p in m.points]
    periods = [p.payment_period for p in m.points] + [x["period"] for x in est]
    payments, ends = {}, {}
    for w in worlds:
        ends[w] = end_period(sc, [r[w]["met"] for r in out], n)
        gross = [np.where(t <= ends[w], g, 0.0) for t, g in
                 zip(periods, [r[w]["gross"] for r in out] + [x["gross"][w] for x in est])]
        paid = rules.settle(gross, periods=periods,
                            caps=[_opt(p.cap, params) for p in m.points] + [None] * len(est),
                            net_of=[[names.index(q) for q in p.net_of] for p in m.points] + [[]] * len(est),
                            cap_total=_opt(m.cap_total, params))
        flow = np.zeros((n, T))
        for t, r, a in zip(periods, out + est, paid):
            r.setdefault(w, {})["paid"] = a
            flow[:, t] += a
        payments[w] = flow
    return {"payments": payments, "points": out, "estimates": est, "has_target": has_target, "end": ends}


def end_period(sc, met: list[np.ndarray], n: int) -> np.ndarray:
    """(n,) the contract's last period (docs/model.md s.8.3): ``T - 1`` unless ``termination`` stops it sooner.

    ``met[i]``: (n,) whether point i's trigger was met. The contract stops at
    ``termination.at_period`` or at the payment period of the first listed
    point in ``on_failed_points`` whose trigger was not met, whichever is sooner.
    """
    T = sc.horizon_periods
    end = np.full(n, T - 1, dtype=np.int64)
    term = getattr(sc, "termination", None)
    if term is None:
        return end
    if term.at_period is not None:
        end = np.minimum(end, term.at_period)
    names = [p.name for p in sc.measurement.points] if sc.measurement is not None else []
    for name in term.on_failed_points:
        i = names.index(name)
        end = np.where(~met[i], np.minimum(end, sc.measurement.points[i].payment_period), end)
    return end


def add_measured(sc, params, cohort, d, pay: Payments) -> tuple[Payments, dict, dict]:
    """The rate card's payments plus measured payments (both worlds), and the measurement's metrics and indicators."""
    res = measure(sc, params, cohort, d)
    flows = res["payments"]
    metrics, ind = {}, {}
    for p, r in zip(sc.measurement.points, res["points"]):
        tr = r["tr"]
        at = f"measurement.{p.name}"
        metrics[f"{at}.observed_rate"] = tr["rate"]
        metrics[f"{at}.comparison_rate"] = tr["comparison"]
        metrics[f"{at}.measured_improvement"] = tr["improvement"]
        metrics[f"{at}.true_improvement"] = tr["true"]
        metrics[f"{at}.payment"] = tr["paid"]
        live = p.payment_period <= res["end"]["tr"]  # a point after the contract ended is never reached
        ind[f"{at}_triggered"] = (tr["gross"] > 0) & live
        ind[f"{at}_trigger_met"] = tr["met"] & live
    for e in sc.measurement.estimates:  # plain impact estimates: per estimate, over its periods
        mine = [x for x in res["estimates"] if x["estimate"] is e]
        at = f"measurement.{e.name}"
        metrics[f"{at}.mean_estimate"] = np.mean([x["value"]["tr"] for x in mine], axis=0)
        metrics[f"{at}.payment"] = sum(x["tr"]["paid"] for x in mine)
        ind[f"{at}_paid"] = metrics[f"{at}.payment"] > 0
    metrics["measurement.payments"] = flows["tr"].sum(axis=1)
    metrics["measurement.payments_no_effect"] = flows["cf"].sum(axis=1)
    ind["measurement.pay_when_no_effect"] = flows["cf"].sum(axis=1) > 0
    if res["has_target"]:
        metrics["measurement.payments_at_target"] = flows["tg"].sum(axis=1)
        ind["measurement.no_pay_at_target"] = ~(flows["tg"].sum(axis=1) > 0)
    if getattr(sc, "termination", None) is not None:
        metrics["termination_period"] = res["end"]["tr"].astype(float)
    new = Payments(pay.treated + flows["tr"], pay.counterfactual + flows["cf"], pay.outcomes_tr, pay.outcomes_cf)
    return new, metrics, ind
