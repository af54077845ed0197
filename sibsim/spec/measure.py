"""The optional ``measurement`` section: payments on measured improvement (docs/model.md s.6).

In a rate card the payer knows each outcome. Many real contracts instead pay
on an improvement that is *measured*: the treated cohort's observed rate
against a comparison group (Peterborough: reconviction events against a
propensity-matched national group of up to ten per prisoner), against a
historical baseline (New York Rikers Island: recidivism bed days against a
matched historical cohort), or on an impact estimate with a standard error (an
RCT or quasi-experiment). Measurement noise then decides payment as much as the
effect does. This section says

* ``cohorts``: groups of start periods that are measured together;
* ``outcomes``: what is measured (a count such as reconviction events per
  person, or a binary outcome), how it is simulated at the cohort level, how it
  is measured (``design``) and the effect the contract is designed to pay for
  (``target_effect``);
* ``points``: when a result is measured on which cohorts, and what it pays
  (a trigger, a price per unit of improvement or a step / piecewise-linear
  schedule, a cap, the payment period, payments already made that it replaces).

Improvements are relative and in the outcome's beneficial direction: for a
``reduce`` outcome ``(r_c - r_x) / r_c``, with ``r_x`` the treated cohort's
observed rate and ``r_c`` the comparison rate. Triggers and schedule thresholds
are shares (0.10 = 10%). See docs/measurement.md and :mod:`sibsim.measure`.

Single-field checks live on the models, each number's range in its declared
use (``spec.base.Use``; a model narrows a use by ``refine_use``, e.g. a
binary outcome's baseline is a probability), which ``spec.uses`` also checks
against the prior of a parameter named there; :func:`measurement_problems`
checks the section against the rest of the scenario (outcomes, the horizon)
and returns ``(field path, message)`` pairs.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .base import Money, Use, Value, _M
from .base import check_range as _check  # noqa: F401  (for field validators; prefer declaring a Use)

EFFECT = Use("an effect size", -1e3, 1e3)
Members = Annotated[Value, Use("comparison group members (a group needs members)", 0, 1e9, lo_open=True)]

NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class MeasuredCohort(_M):
    """Participants who start in periods ``start_periods[0] .. start_periods[1]`` (inclusive)."""

    name: str = Field(pattern=NAME)
    start_periods: tuple[int, int] = Field(description="first and last start period, inclusive")

    @field_validator("start_periods")
    @classmethod
    def _ordered(cls, v):
        a, b = v
        if not 0 <= a <= b:
            raise ValueError(f"need 0 <= first <= last start period; got [{a}, {b}]")
        return v


class MeasuredEffect(_M):
    """The true effect among the engaged: ``relative`` (share of the level) or ``absolute`` (per person)."""

    type: Literal["absolute", "relative"] = "relative"
    size: Annotated[Value, EFFECT] = 0.0


class Design(_M):
    """How the improvement is measured.

    ``comparison_group``: a group of ``size`` members per cohort (or
    ``size_per_participant`` times the cohort's measured population) drawn
    around the counterfactual level (binomial for binary outcomes, Poisson,
    gamma-mixed if overdispersed, for counts).
    ``historical_baseline``: the same, but the group's level is the
    counterfactual level times ``1 + drift`` (the world has changed since the
    baseline was measured); without a size the baseline is known exactly.
    ``estimate``: an impact estimate of the relative improvement, centred on
    the cohort's own realised improvement, with standard error ``se`` (as from
    an RCT); each measurement point draws its own error.
    """

    kind: Literal["comparison_group", "historical_baseline", "estimate"]
    size: Members | None = Field(None, description="comparison members per cohort")
    size_per_participant: Members | None = Field(None, description="comparison members per measured participant")
    drift: Annotated[Value, Use("a relative difference of levels", -1, 1e3, lo_open=True)] = Field(
        0.0, description="historical level / counterfactual level - 1 (historical_baseline)")
    se: Annotated[Value, Use("a standard error", 0, 1e3)] | None = Field(
        None, description="standard error of the estimated relative improvement (estimate)")

    @model_validator(mode="after")
    def _fields_of_kind(self):
        sized = (self.size is not None) + (self.size_per_participant is not None)
        if self.kind == "estimate":
            if self.se is None:
                raise ValueError("an estimate design needs se (the standard error of the estimated improvement)")
            if sized:
                raise ValueError("an estimate design takes se, not size or size_per_participant")
        else:
            if self.se is not None:
                raise ValueError(f"se belongs to the estimate design, not {self.kind}")
            if sized > 1:
                raise ValueError("give size or size_per_participant, not both")
            if self.kind == "comparison_group" and not sized:
                raise ValueError("a comparison_group design needs size or size_per_participant")
        if self.kind != "historical_baseline" and self.drift != 0.0:
            raise ValueError(f"drift belongs to the historical_baseline design, not {self.kind}")
        return self


class MeasuredOutcome(_M):
    """An outcome that is measured for payment, simulated cohort by cohort.

    ``count``: events per person, counterfactual mean ``baseline``; a cohort's
    events are Poisson (gamma-Poisson with ``overdispersion`` k: variance per
    person ``mu + k mu^2``). ``binary``: probability ``baseline``, binomial; or
    ``from_outcome``: the achievements of a rate-card outcome, by start period,
    from the participant pass. ``population``: whose outcomes are measured
    (``all`` starters, intention to treat, or ``engaged`` ones).
    ``target_effect``: the effect among the engaged (in ``effect``'s units)
    the contract is designed to pay for; the investor's measurement risk is
    the chance of no payment when the effect is exactly this.
    """

    name: str = Field(pattern=NAME)
    kind: Literal["count", "binary"] = "count"
    direction: Literal["increase", "reduce"] = "reduce"
    from_outcome: str | None = Field(None, description="a rate-card outcome whose achievements are measured")
    baseline: Annotated[Value, Use("a level: events per person", 0, 1e6)] | None = Field(
        None, description="counterfactual events per person (count) or probability")
    effect: MeasuredEffect = MeasuredEffect()
    overdispersion: Annotated[Value, Use("an overdispersion (gamma-Poisson k)", 0, 1e6)] = Field(
        0.0, description="gamma-Poisson k: variance per person mu + k mu^2 (count)")
    population: Literal["all", "engaged"] = "all"
    design: Design
    target_effect: Annotated[Value, EFFECT] | None = None

    def refine_use(self, field, use):
        if field == "baseline" and self.kind == "binary":
            return Use("a probability", 0, 1)
        if field in ("effect.size", "target_effect"):
            if self.effect.type == "absolute":
                return (Use("an absolute effect (a difference of probabilities)", -1, 1) if self.kind == "binary"
                        else Use("an absolute effect (events per person)", -1e6, 1e6))
            if self.direction == "reduce":
                return Use("a relative reduction (a share of the level)", None, 1)
            return Use("a relative increase (a share of the level)", -1, None)
        return use

    @model_validator(mode="after")
    def _source(self):
        if self.from_outcome is not None:
            if self.kind != "binary":
                raise ValueError("from_outcome measures a binary rate-card outcome: set kind: binary")
            if self.baseline is not None or self.effect != MeasuredEffect():
                raise ValueError("from_outcome takes its baseline and effect from the rate-card outcome; "
                                 "remove baseline and effect")
            if self.population != "all":
                raise ValueError("from_outcome counts every starter's achievements: population must be 'all'")
        elif self.baseline is None:
            raise ValueError("a measured outcome needs a baseline (or from_outcome)")
        if self.kind == "binary" and self.overdispersion != 0.0:
            raise ValueError("overdispersion applies to count outcomes only")
        return self


class Pay(_M):
    """What a point pays once its trigger is met.

    ``per_unit``: ``price_per_unit * max(0, r_c - r_x) * N`` (units of
    improvement, e.g. events avoided, in the measured population N; docs/model.md
    s.6.3). ``schedule``: ``payment[j]`` at measured improvement
    ``improvement[j]``; nothing below the first threshold; ``step`` holds each
    amount until the next threshold, ``linear`` interpolates; flat after the
    last.
    """

    kind: Literal["per_unit", "schedule"]
    price_per_unit: Money | None = None
    interpolation: Literal["step", "linear"] = "step"
    improvement: tuple[float, ...] | None = Field(None, description="thresholds of measured improvement, increasing")
    payment: tuple[float, ...] | None = Field(None, description="payment at each threshold, never decreasing")

    @field_validator("improvement")
    @classmethod
    def _thresholds(cls, v):
        if v is None:
            return v
        v = list(v)
        bad = [x for x in v if not (math.isfinite(x) and 0 <= x <= 1)]
        if bad:
            raise ValueError(f"thresholds are shares between 0 and 1 (0.10 = 10%); got {bad[0]} in {v}")
        for a, b in zip(v, v[1:]):
            if b <= a:
                raise ValueError(f"thresholds must be strictly increasing; got {b} after {a} in {v}")
        return tuple(v)

    @field_validator("payment")
    @classmethod
    def _monotone(cls, v, info: ValidationInfo):
        if v is None:
            return v
        v = list(v)
        bad = [x for x in v if not (math.isfinite(x) and x >= 0)]
        if bad:
            raise ValueError(f"payments must be >= 0; got {bad[0]} in {v}")
        for a, b in zip(v, v[1:]):
            if b < a:
                raise ValueError(f"the schedule must not decrease as improvement rises; got {b} after {a} in {v}")
        thr = info.data.get("improvement")
        if thr is not None and len(thr) != len(v):
            raise ValueError(f"needs one payment per improvement threshold ({len(thr)}); got {len(v)} in {v}")
        return tuple(v)

    @model_validator(mode="after")
    def _fields_of_kind(self):
        if self.kind == "per_unit":
            if self.price_per_unit is None:
                raise ValueError("per_unit pay needs price_per_unit")
            if self.improvement is not None or self.payment is not None:
                raise ValueError("per_unit pay takes price_per_unit, not improvement/payment")
        else:
            if self.improvement is None or self.payment is None or not self.improvement:
                raise ValueError("schedule pay needs improvement thresholds and a payment for each")
            if self.price_per_unit is not None:
                raise ValueError("schedule pay takes improvement/payment, not price_per_unit")
        return self


class MeasurementPoint(_M):
    """One measured result: which cohorts, what it pays, when.

    ``net_of``: earlier points whose payments this one replaces (it pays only
    what exceeds them, never below zero): Peterborough's final pooled payment
    does not pay again for a cohort already paid on its own trigger.
    """

    name: str = Field(pattern=NAME)
    outcome: str
    cohorts: tuple[str, ...] = Field(description="cohorts measured together (pooled)")
    trigger: Annotated[Value, Use("a share of the comparison rate: 0.10 = 10%", 0, 1)] = Field(
        0.0, description="least measured improvement that pays (0.10 = 10%)")
    pay: Pay
    payment_period: int = Field(ge=0)
    cap: Money | None = Field(None, description="most this point pays")
    net_of: tuple[str, ...] = ()

    @field_validator("cohorts")
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError("needs at least one cohort; got none")
        return v


class ImpactEstimate(_M):
    """A plain impact estimate (docs/model.md s.6.5): paid linearly on an evaluation's reported effect.

    In each of ``periods`` an evaluation reports ``E_t = effect + se * Z_t``
    (``Z_t`` independent standard normals: each period has its own estimate),
    in the outcome's own ``units`` or in standard deviations (``sd``; both
    ``effect`` and ``se`` in those units). That period's payment is
    ``min(cap_per_period, price_per_unit * max(0, E_t))``: linear per unit of
    estimate, a floor at zero and an optional ceiling. No rate-card outcome,
    cohort or comparison group is involved. ``target_effect``: the effect the
    contract is designed to pay for (the investor's measurement risk).
    """

    name: str = Field(pattern=NAME)
    effect: Annotated[Value, Use("an effect (any finite number)")] = Field(
        description="the true effect the evaluation estimates (per trial: a parameter)")
    se: Annotated[Value, Use("a standard error", 0, None)] = Field(
        description="standard error of each period's estimate, in the same units")
    units: Literal["outcome", "sd"] = Field("outcome", description="the outcome's own units or standard deviations")
    periods: tuple[int, ...] = Field(description="periods in which an estimate is reported and paid")
    price_per_unit: Money = Field(description="payment per unit of estimated effect")
    cap_per_period: Money | None = Field(None, description="most one period's estimate pays (the ceiling)")
    target_effect: Annotated[Value, Use("an effect (any finite number)")] | None = None

    @field_validator("periods")
    @classmethod
    def _periods(cls, v):
        if not v:
            raise ValueError("needs at least one period; got none")
        if any(p < 0 for p in v) or len(set(v)) != len(v):
            raise ValueError(f"periods must be distinct and >= 0; got {list(v)}")
        return tuple(sorted(v))


class Measurement(_M):
    cohorts: tuple[MeasuredCohort, ...] = ()
    outcomes: tuple[MeasuredOutcome, ...] = ()
    points: tuple[MeasurementPoint, ...] = ()
    estimates: tuple[ImpactEstimate, ...] = Field((), description="plain impact estimates (docs/model.md s.6.5)")
    cap_total: Money | None = Field(None, description="most all measured payments together pay")

    @model_validator(mode="after")
    def _nonempty(self):
        if not self.estimates or self.points or self.cohorts or self.outcomes:
            for f in ("cohorts", "outcomes", "points"):
                if not getattr(self, f):
                    raise ValueError(f"{f}: needs at least one entry; got none"
                                     + ("" if self.estimates else " (or give estimates only)"))
        return self

    def names(self) -> dict[str, str]:
        """Field path -> parameter name, for every number given as a parameter name."""
        out = {}

        def add(path, v):
            if isinstance(v, str):
                out[path] = v

        for i, o in enumerate(self.outcomes):
            at = f"outcomes.{i}"
            for f in ("baseline", "overdispersion", "target_effect"):
                add(f"{at}.{f}", getattr(o, f))
            add(f"{at}.effect.size", o.effect.size)
            for f in ("size", "size_per_participant", "drift", "se"):
                add(f"{at}.design.{f}", getattr(o.design, f))
        for i, p in enumerate(self.points):
            for f in ("trigger", "cap"):
                add(f"points.{i}.{f}", getattr(p, f))
            add(f"points.{i}.pay.price_per_unit", p.pay.price_per_unit)
        for i, e in enumerate(self.estimates):
            for f in ("effect", "se", "price_per_unit", "cap_per_period", "target_effect"):
                add(f"estimates.{i}.{f}", getattr(e, f))
        add("cap_total", self.cap_total)
        return out


def _dupes(names: list[str]) -> str:
    return ", ".join(sorted({n for n in names if names.count(n) > 1}))


def measurement_problems(sc) -> list[tuple[str, str]]:
    """Cross-field checks of ``sc.measurement`` against the scenario, as ``(field path, message)``."""
    m: Measurement = sc.measurement
    at = lambda f: f"measurement.{f}"  # noqa: E731
    probs: list[tuple[str, str]] = []
    T = sc.horizon_periods
    cohorts = {c.name: c for c in m.cohorts}
    outcomes = {o.name: o for o in m.outcomes}
    for what, names in (("cohorts", [c.name for c in m.cohorts]), ("outcomes", [o.name for o in m.outcomes]),
                        ("points", [p.name for p in m.points])):
        if _dupes(names):
            probs.append((at(what), f"names must be unique; repeated: {_dupes(names)}"))
    taken: dict[int, str] = {}
    for i, c in enumerate(m.cohorts):
        a, b = c.start_periods
        if b >= T:
            probs.append((at(f"cohorts.{i}.start_periods"),
                          f"start periods [{a}, {b}] fall outside the horizon; allowed: 0 .. {T - 1} "
                          f"(horizon_periods {T})"))
        for t in range(a, min(b, T - 1) + 1):
            if t in taken and taken[t] != c.name:
                probs.append((at(f"cohorts.{i}.start_periods"),
                              f"period {t} is already in cohort '{taken[t]}'; cohorts must not overlap"))
                break
            taken[t] = c.name
    rc_outcomes = [o.name for o in sc.outcomes]
    for i, o in enumerate(m.outcomes):
        if o.from_outcome is not None and o.from_outcome not in rc_outcomes:
            probs.append((at(f"outcomes.{i}.from_outcome"),
                          f"'{o.from_outcome}' is not an outcome; outcomes: {', '.join(rc_outcomes)}"))
        if o.kind == "binary" and isinstance(o.baseline, float) and not 0 <= o.baseline <= 1:
            probs.append((at(f"outcomes.{i}.baseline"), f"a probability must be between 0 and 1; got {o.baseline}"))
        if o.kind == "count" and isinstance(o.baseline, float) and o.baseline < 0:
            probs.append((at(f"outcomes.{i}.baseline"), f"events per person must be >= 0; got {o.baseline}"))
    names = [p.name for p in m.points] + [e.name for e in m.estimates]
    if _dupes(names):
        probs.append((at("estimates"), f"names must be unique across points and estimates; repeated: {_dupes(names)}"))
    for i, e in enumerate(m.estimates):
        late = [p for p in e.periods if p >= T]
        if late:
            probs.append((at(f"estimates.{i}.periods"),
                          f"must be inside the horizon, 0 .. {T - 1}; got {late[0]}"))
    seen: dict[str, int] = {}
    for i, p in enumerate(m.points):
        if p.outcome not in outcomes:
            probs.append((at(f"points.{i}.outcome"),
                          f"'{p.outcome}' is not a measured outcome; measured outcomes: {', '.join(outcomes)}"))
        unknown = [c for c in p.cohorts if c not in cohorts]
        if unknown:
            probs.append((at(f"points.{i}.cohorts"),
                          f"'{unknown[0]}' is not a cohort; cohorts: {', '.join(cohorts)}"))
        if p.payment_period >= T:
            probs.append((at(f"points.{i}.payment_period"),
                          f"must be inside the horizon, 0 .. {T - 1}; got {p.payment_period}"))
        last = max((cohorts[c].start_periods[1] for c in p.cohorts if c in cohorts), default=0)
        if p.payment_period < last:
            probs.append((at(f"points.{i}.payment_period"),
                          f"pays before its cohorts have all started (last start period {last}); "
                          f"got {p.payment_period}, allowed: >= {last}"))
        for q in p.net_of:
            if q not in seen:
                probs.append((at(f"points.{i}.net_of"),
                              f"'{q}' is not a point listed before '{p.name}'; earlier points: "
                              f"{', '.join(seen) or '(none)'}"))
            elif m.points[seen[q]].payment_period > p.payment_period:
                probs.append((at(f"points.{i}.net_of"),
                              f"'{q}' pays in period {m.points[seen[q]].payment_period}, after this point "
                              f"({p.payment_period}); a point can only replace payments already made"))
        seen[p.name] = i
    return probs
