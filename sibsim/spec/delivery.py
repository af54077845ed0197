"""The optional ``delivery`` section of a scenario (docs/model.md s.12).

Many real SIBs struggled with delivery rather than with effect: referrals came
in below plan, caseworkers were hired late, waiting lists grew and people were
lost before they engaged. This section describes that pipeline so the
discrete-event model in :mod:`sibsim.delivery` can turn it into the starts and
engagement per period that the cohorts consume (docs/model.md s.3):

referrals (Poisson)  ->  waiting list (may drop out)  ->  caseworker slot
->  engages (service for a while) or leaves at once  ->  slot freed.

Time is measured in the scenario's periods. Any number written as ``Value`` may
instead name a parameter of the scenario's parameter table; each such field
declares its use (``spec.base.Use``), against which ``spec.uses`` checks the
parameter's prior.

Schedules and the horizon: ``referrals_per_period[t]`` is the base rate in
period ``t``; periods after the list have no referrals (the referral window has
closed). ``hiring[t]`` is the number of caseworkers in post in period ``t``;
after the list the last entry holds (staff stay to serve the remaining cases).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from .base import Multiplier, Probability, Use, Value, _M
from .limits import LIMITS

Caseworkers = Annotated[Value, Use("caseworkers in post (with none nobody can start)", 0,
                                   LIMITS["caseworkers"][0], lo_open=True)]
Caseload = Annotated[Union[int, Value], Use("cases each caseworker holds at once", 0, LIMITS["caseload"][0], lo_open=True)]
Duration = Annotated[Value, Use("a duration in periods", 0, 1e4, lo_open=True)]
Patience = Annotated[Value, Use("a mean wait in periods; omit it for infinite patience", 0, 1e4, lo_open=True)]


class Delivery(_M):
    """Referrals, caseworker capacity, the waiting list and engagement.

    Capacity in period ``t`` is ``floor(caseworkers_t * caseload)`` concurrent
    cases (slots). Someone allocated a slot *starts* the programme; they engage
    with probability ``engagement`` and then hold the slot for the service
    duration, or leave at once and free it. People waiting longer than their
    (exponential) patience drop out of the waiting list.
    """

    referrals_per_period: tuple[float, ...] = Field(
        min_length=1, description="base Poisson rate of referrals in each period; none after the list ends"
    )
    ramp_up_periods: int = Field(
        0, ge=0, le=600, description="referrals ramp linearly from 0 to the full rate over this many first periods"
    )
    volume: Multiplier = Field(1.0, description="per-trial multiplier on referral rates (referrals below plan)")
    caseworkers: Caseworkers | None = Field(None, description="caseworkers in post, the same in every period")
    hiring: tuple[int, ...] | None = Field(
        None, description="caseworkers in post in each period (instead of caseworkers); the last entry holds after"
    )
    caseload: Caseload = Field(description="concurrent cases each caseworker holds")
    patience_mean_periods: Patience | None = Field(
        None, description="mean of the exponential time people wait before dropping out; omit for infinite patience"
    )
    engagement: Probability = Field(1.0, description="probability that someone allocated a caseworker engages")
    service_periods: Duration = Field(description="mean time an engaged participant holds a caseworker slot")
    service_dist: Literal["fixed", "exponential"] = Field(
        "exponential", description="service duration exactly service_periods, or exponential with that mean"
    )

    @field_validator("referrals_per_period")
    @classmethod
    def _rates(cls, v):
        for t, r in enumerate(v):
            if r < 0:
                raise ValueError(f"referrals_per_period[{t}] must be >= 0 (a referral rate cannot be negative); "
                                 f"got {r:g}")
        if not any(r > 0 for r in v):
            raise ValueError("referrals_per_period has no positive rate, so nobody would ever be referred; got all 0")
        return v

    @field_validator("hiring")
    @classmethod
    def _hiring(cls, v):
        if v is None:
            return v
        if not v:
            raise ValueError("hiring must list caseworkers in post for at least one period; got []")
        most = LIMITS["caseworkers"][0]
        for t, k in enumerate(v):
            if not 0 <= k <= most:
                raise ValueError(f"hiring[{t}] must be between 0 and {most:,} caseworkers; got {k}")
        if not any(k > 0 for k in v):
            raise ValueError("hiring never has a caseworker in post, so nobody can start; got all 0")
        return v

    @model_validator(mode="after")
    def _cross(self):
        if (self.caseworkers is None) == (self.hiring is None):
            given = "both" if self.hiring is not None else "neither"
            raise ValueError(
                f"caseworkers: give either caseworkers (a count, or a parameter name) or hiring "
                f"(caseworkers in post per period); got {given}"
            )
        n = len(self.referrals_per_period)
        if self.ramp_up_periods > n:
            raise ValueError(
                f"ramp_up_periods ({self.ramp_up_periods}) is longer than referrals_per_period ({n} periods), "
                f"so referrals would never reach the full rate; allowed: 0 to {n}"
            )
        return self

    def names(self) -> dict[str, str]:
        """Parameter names referred to, by field name."""
        fields = ("volume", "caseworkers", "caseload", "patience_mean_periods", "engagement", "service_periods")
        return {f: getattr(self, f) for f in fields if isinstance(getattr(self, f), str)}


def delivery_problems(delivery: Delivery, parameter_names, *, horizon_periods: int | None = None,
                      prefix: str = "delivery") -> list[tuple[str, str]]:
    """Cross-checks against the rest of the scenario, as ``(field path, message)`` pairs.

    Given ``horizon_periods``, schedules must fit inside it and the ramp must
    end before it. (Parameter names and their priors are checked against each
    field's declared use by ``spec.uses``, for the whole scenario.)
    """
    at = (lambda f: f"{prefix}.{f}") if prefix else (lambda f: f)
    probs = []
    if horizon_periods is not None:
        h = horizon_periods
        if delivery.ramp_up_periods > h:
            probs.append((at("ramp_up_periods"), f"must be at most horizon_periods ({h}); got {delivery.ramp_up_periods}"))
        if len(delivery.referrals_per_period) > h:
            probs.append((at("referrals_per_period"),
                          f"has {len(delivery.referrals_per_period)} periods but the horizon is {h}; allowed: at most {h}"))
        if delivery.hiring is not None and len(delivery.hiring) > h:
            probs.append((at("hiring"), f"has {len(delivery.hiring)} periods but the horizon is {h}; allowed: at most {h}"))
    return probs
