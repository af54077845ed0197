"""Measurement design of a measured-outcome contract: comparison-group size and trigger (docs/voi.md).

A contract that pays on measured improvement (a ``measurement`` section,
docs/measurement.md) trades four things when its comparison group grows or
its trigger moves:

* ``p_pay_no_effect``: the chance of paying although the programme does
  nothing (the commissioner's measurement risk, ``measurement.pay_when_no_effect``);
* ``p_no_pay_at_target``: the chance of paying nothing although the effect is
  exactly the target (the investor's, ``measurement.no_pay_at_target``);
* ``expected_overpayment``: ``E[max(0, paid - paid if the counterfactual level
  were known exactly)]``, the same trials measured against an exact baseline
  (common random numbers: the cohorts are the same, only the comparison
  group's noise is removed);
* ``evaluation_cost``: comparison members times a cost per member (data
  linkage and matching; a placeholder the user sets).

Each design is a run of the scenario with every measured outcome's
comparison group resized (``size`` or ``size_per_participant``, whichever
the scenario uses) and every point's trigger multiplied by ``trigger_scale``
(the contract's triggers keep their relation: Peterborough's 10% per cohort
and 7.5% pooled). :func:`recommend` picks, among designs within stated risk
limits, the one with the lowest expected overpayment plus evaluation cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError


@dataclass(frozen=True)
class DesignRow:
    size: float
    trigger_scale: float
    p_pay_no_effect: float
    p_pay_no_effect_se: float
    p_no_pay_at_target: float
    p_no_pay_at_target_se: float
    expected_overpayment: float
    expected_payment: float
    comparison_members: float
    evaluation_cost: float


def _measured(sc):
    if sc.measurement is None:
        raise UsageError(f"scenario {sc.name!r} has no measurement section: the measurement design applies to "
                         f"contracts that pay on measured improvement (e.g. scenarios/peterborough.yaml)")
    return sc.measurement


def size_field(sc) -> str:
    """``size`` or ``size_per_participant``: what the scenario's comparison groups are sized by."""
    m = _measured(sc)
    des = [o.design for o in m.outcomes if o.design.kind != "estimate"]
    if not des:
        raise UsageError("the measured outcomes use impact estimates (design: estimate), not comparison groups")
    return "size" if des[0].size is not None else "size_per_participant"


def with_design(sc, *, size: float | None, trigger_scale: float = 1.0, exact: bool = False):
    """A copy of ``sc`` with resized comparison groups (or, ``exact``, an exactly known baseline) and scaled triggers."""
    m = _measured(sc)
    fld = size_field(sc)
    outs = []
    for o in m.outcomes:
        d = o.design
        if d.kind != "estimate":
            if exact:
                d = d.model_copy(update={"kind": "historical_baseline", "size": None, "size_per_participant": None,
                                         "drift": 0.0})
            elif size is not None:
                d = d.model_copy(update={fld: float(size)})
        outs.append(o.model_copy(update={"design": d}))
    points = []
    for p in m.points:
        t = p.trigger
        if not isinstance(t, str):
            t = float(min(max(t * trigger_scale, 0.0), 1.0))
        points.append(p.model_copy(update={"trigger": t}))
    new = m.model_copy(update={"outcomes": tuple(outs), "points": tuple(points)})
    from ..spec.load import loads  # re-validated through the front door: a design that exists is valid
    import json

    data = json.loads(sc.model_copy(update={"measurement": new}).canonical_json())
    return loads(json.dumps(data))


def evaluate(sc, *, sizes, trigger_scales=(1.0,), trials: int = 2_000, seed: int = 1,
             cost_per_member: float = 50.0) -> list[DesignRow]:
    """One row per (size, trigger scale): the measurement risks, expected overpayment and evaluation cost."""
    from ..engine import simulate

    fld = size_field(sc)
    rows = []
    for k in trigger_scales:
        exact = simulate(with_design(sc, size=None, trigger_scale=k, exact=True), trials=trials, seed=seed)
        pay_exact = exact.metrics["measurement.payments"]
        for s in sizes:
            run = simulate(with_design(sc, size=s, trigger_scale=k), trials=trials, seed=seed)
            pr = run.probabilities()
            pay = run.metrics["measurement.payments"]
            if fld == "size":
                members = float(s) * sum(len(sc.measurement.cohorts) for o in sc.measurement.outcomes
                                         if o.design.kind != "estimate")
            else:
                members = float(s) * float(np.mean(run.metrics["participants"]))
            target = pr.get("measurement.no_pay_at_target", {"p": np.nan, "se": np.nan})
            rows.append(DesignRow(size=float(s), trigger_scale=float(k),
                                  p_pay_no_effect=pr["measurement.pay_when_no_effect"]["p"],
                                  p_pay_no_effect_se=pr["measurement.pay_when_no_effect"]["se"],
                                  p_no_pay_at_target=target["p"], p_no_pay_at_target_se=target["se"],
                                  expected_overpayment=float(np.mean(np.maximum(pay - pay_exact, 0.0))),
                                  expected_payment=float(np.mean(pay)), comparison_members=members,
                                  evaluation_cost=members * cost_per_member))
    return rows


def recommend(rows: list[DesignRow], *, max_pay_no_effect: float = 0.05,
              max_no_pay_at_target: float = 0.2) -> DesignRow | None:
    """The design with the least expected overpayment plus evaluation cost within both risk limits (None if none)."""
    ok = [r for r in rows if r.p_pay_no_effect <= max_pay_no_effect
          and not (r.p_no_pay_at_target > max_no_pay_at_target)]
    return min(ok, key=lambda r: (r.expected_overpayment + r.evaluation_cost, r.size)) if ok else None


def frame(rows: list[DesignRow]):
    """pandas DataFrame of the rows."""
    import pandas as pd

    return pd.DataFrame([vars(r) for r in rows])
