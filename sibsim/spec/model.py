"""The scenario schema (pydantic, frozen, unknown keys rejected).

A scenario is one immutable value: metadata, a parameter table of named priors,
and a structure (participants, outcomes, rate card, costs, finance) in which
any number may be replaced by the name of a parameter. See docs/model.md and the
README's "Scenario format" section for what each field means.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..dists import Fixed, Prior

PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}

from .base import (  # noqa: E402  (shared with spec.delivery)
    PROBABILITY, FrozenDict, Money, Multiplier, ParamKey, Probability, Share, Use, Value, _M,
)
from .delivery import Delivery  # noqa: E402
from .finance import Appraisal, Finance, Termination  # noqa: E402
from .measure import Measurement  # noqa: E402


Periods = Annotated[int, Field(ge=0, le=600)]  # a whole number of periods (at most the longest horizon)


class Correlation(_M):
    a: ParamKey
    b: ParamKey
    rho: float = Field(ge=-1, le=1)


class FixedStarts(_M):
    """Starts per period, the same in every trial."""

    kind: Literal["schedule"] = "schedule"
    per_period: tuple[int, ...] = Field(min_length=1)

    @field_validator("per_period")
    @classmethod
    def _nonneg(cls, v):
        bad = [x for x in v if x < 0]
        if bad:
            raise ValueError(f"starts must be >= 0; got {bad[0]}")
        return v


class PoissonStarts(_M):
    """Starts per period ~ Poisson(rate_t * volume), volume a per-trial multiplier."""

    kind: Literal["poisson"] = "poisson"
    rate_per_period: tuple[float, ...] = Field(min_length=1)
    volume: Multiplier = 1.0

    @field_validator("rate_per_period")
    @classmethod
    def _nonneg(cls, v):
        bad = [x for x in v if x < 0]
        if bad:
            raise ValueError(f"rates must be >= 0; got {bad[0]}")
        return v


class Participants(_M):
    starts: Annotated[Union[FixedStarts, PoissonStarts], Field(discriminator="kind")] | None = Field(
        None, description="starts per period; omit when a delivery section produces them")
    max_participants: int | None = Field(None, gt=0, description="contract maximum: starts beyond it are refused")
    engagement: Probability = Field(1.0, description="probability that a starter engages")
    payment_on: Literal["all", "engaged"] = Field(
        "all", description="pay for outcomes of every referred starter (intention to treat) or engaged ones only"
    )

    @model_validator(mode="after")
    def _bounded(self):
        if self.starts is not None and self.starts.kind == "poisson" and self.max_participants is None:
            raise ValueError("Poisson starts need max_participants (the contract maximum) to bound the cohort")
        return self


EFFECT = Use("an effect size", -1e3, 1e3)


class Effect(_M):
    type: Literal["absolute", "relative"] = "absolute"
    size: Annotated[Value, EFFECT] = 0.0

    def refine_use(self, field, use):
        if field == "size" and self.type == "absolute":
            return Use("an absolute effect (a difference of probabilities)", -1, 1)
        return use


class Lag(_M):
    """Periods from start (or from the prerequisite outcome) to achievement.

    ``fixed``: exactly ``periods``; ``uniform``: uniform on ``low..high``;
    ``discrete``: ``probabilities[j]`` is the chance of lag ``j + 1``.
    """

    dist: Literal["fixed", "uniform", "discrete"] = "uniform"
    periods: Periods | None = None
    low: Periods | None = None
    high: Periods | None = None
    probabilities: tuple[float, ...] | None = Field(None, max_length=600)

    @model_validator(mode="after")
    def _check(self):
        if self.dist == "fixed":
            if self.periods is None:
                raise ValueError("a fixed lag needs periods")
        elif self.dist == "uniform":
            if self.low is None or self.high is None or self.high < self.low:
                raise ValueError(f"a uniform lag needs low <= high; got low={self.low}, high={self.high}")
        else:
            p = self.probabilities
            if not p or any(x < 0 for x in p) or abs(sum(p) - 1) > 1e-6:
                raise ValueError(f"discrete lag probabilities must be >= 0 and sum to 1; got {list(p or [])}")
        return self

    @property
    def values(self) -> list[int]:
        if self.dist == "fixed":
            return [self.periods]
        if self.dist == "uniform":
            return list(range(self.low, self.high + 1))
        return [j + 1 for j in range(len(self.probabilities))]

    @property
    def probs(self) -> list[float]:
        if self.dist == "discrete":
            return list(self.probabilities)
        n = len(self.values)
        return [1.0 / n] * n

    @property
    def max(self) -> int:
        return max(self.values)


BASELINE = Use("a counterfactual level")  # checked as refined by kind: a probability, or mean events per participant


class Outcome(_M):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    kind: Literal["binary", "count"] = Field(
        "binary", description="binary: achieved or not; count: events per participant within the lag window, "
                              "Poisson, priced per event (docs/model.md s.4.3)")
    direction: Literal["increase", "reduce"] = "increase"
    baseline: Annotated[Value, BASELINE] = Field(
        description="counterfactual probability (conditional on the prerequisite, if any); for a count outcome, "
                    "mean events per participant (mu0)")
    effect: Effect = Effect()
    lag: Lag = Lag(dist="fixed", periods=1)
    requires: str | None = Field(None, description="name of a prerequisite outcome")

    def refine_use(self, field, use):
        if field == "baseline":
            return PROBABILITY if self.kind == "binary" else Use("mean events per participant", 0, None)
        if field == "effect.size" and self.kind == "count" and self.effect.type == "absolute":
            return Use("an absolute change in mean events per participant", None, None)  # not a probability
        if field == "effect.size" and self.effect.type == "relative":
            # treated probability baseline * (1 +- size): a reduction beyond 100% (or a fall below 0) is not one
            if self.direction == "reduce":
                return Use("a relative reduction (a share of the baseline)", None, 1)
            return Use("a relative increase (a share of the baseline)", -1, None)
        return use


class RateCard(_M):
    prices: FrozenDict(str, Money) = Field(default_factory=dict, description="price per achieved outcome, by outcome name")
    payment_lag_periods: Periods = 0
    cap_per_participant: Money | None = None
    cap_per_outcome: FrozenDict(str, Annotated[int, Field(ge=0)]) = Field(
        default_factory=dict, description="maximum number paid, by outcome")
    cap_total: Money | None = None
    co_payer_share: Share = Field(0.0, description="share of each payment paid by a central outcomes fund")


class Costs(_M):
    fixed_per_period: Money = 0.0
    fixed_periods: tuple[int, int] | None = Field(
        None, description="first and last period (inclusive) of the fixed cost; all periods if omitted"
    )
    setup: Money = 0.0
    per_start: Money = 0.0
    per_engaged: Money = Field(0.0, description="one-off cost per engaged participant, in their start period")
    per_engaged_per_period: Money = 0.0
    service_periods: int = Field(1, ge=1, le=600, description="periods an engaged participant is served (for per-period cost)")
    multiplier: Multiplier = Field(1.0, description="per-trial multiplier on participant costs (cost overrun)")


def count_problems(sc) -> list[tuple[str, str]]:
    """Checks of count outcomes (docs/model.md s.4.3) against the rest of the scenario."""
    probs = []
    counts = {o.name for o in sc.outcomes if o.kind == "count"}
    for i, o in enumerate(sc.outcomes):
        if o.kind == "count" and o.requires is not None:
            probs.append((f"outcomes.{i}.requires", f"a count outcome cannot require another outcome; "
                                                    f"got requires: {o.requires}"))
        if o.requires in counts:
            probs.append((f"outcomes.{i}.requires", f"'{o.requires}' is a count outcome and cannot be a "
                                                    "prerequisite; prerequisites are binary outcomes"))
    priced = sorted(k for k in sc.rate_card.prices if k in counts)
    if priced and sc.rate_card.cap_per_participant is not None:
        probs.append(("rate_card.cap_per_participant", f"is not applied to count outcomes ({', '.join(priced)} "
                                                       "priced per event): cap their volume with cap_per_outcome "
                                                       "or the total with cap_total instead"))
    m = getattr(sc, "measurement", None)
    for i, mo in enumerate(m.outcomes if m is not None else ()):
        if mo.from_outcome in counts:
            probs.append((f"measurement.outcomes.{i}.from_outcome", f"'{mo.from_outcome}' is a count outcome; "
                                                                    "from_outcome measures a binary outcome"))
    return probs


ParamEntry = Union[float, Prior]


class Scenario(_M):
    name: str = Field(min_length=1)
    description: str = ""
    currency: str = "GBP"
    period: Literal["month", "quarter", "year"] = "quarter"
    horizon_periods: int = Field(gt=0, le=600)
    discount_rate_annual: float = Field(0.035, ge=0, le=1)
    parameters: FrozenDict(ParamKey, ParamEntry) = Field(default_factory=dict)
    correlations: tuple[Correlation, ...] = ()
    participants: Participants
    outcomes: tuple[Outcome, ...] = Field(description="[] only when measurement.estimates pays (docs/model.md s.6.5)")
    rate_card: RateCard
    costs: Costs = Costs()
    finance: Finance = Finance()
    appraisal: Appraisal | None = Field(None, description="value for money: value per outcome, discounting, optimism bias")
    delivery: Delivery | None = Field(None, description="referrals, caseworkers and waiting list (docs/model.md s.12)")
    measurement: Measurement | None = Field(None, description="payments on measured improvement (docs/model.md s.6)")
    termination: Termination | None = Field(None, description="the contract stops early (docs/model.md s.8.3)")

    @model_validator(mode="after")
    def _starts_or_delivery(self):
        if self.participants.starts is None and self.delivery is None:
            raise ValueError("participants.starts is required unless the scenario has a delivery section")
        if self.participants.starts is not None and self.delivery is not None:
            raise ValueError("give participants.starts or a delivery section, not both: delivery produces the starts")
        return self

    @classmethod
    def model_validate(cls, obj, *args, **kwargs) -> "Scenario":
        """Validate a plain dict into a Scenario; a ScenarioError lists each problem as (field, message)."""
        from ..errors import ScenarioError
        from .load import MAX_DEPTH, _problems

        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as err:
            raise ScenarioError(_problems(err)) from None
        except RecursionError:
            raise ScenarioError([("", f"nested too deeply (a scenario is at most {MAX_DEPTH} levels deep)")]) from None

    @model_validator(mode="after")
    def _consistent(self):
        """Every check that needs more than one field (spec.load.semantic_problems): a Scenario is valid."""
        from .load import semantic_problems

        probs = semantic_problems(self)
        if probs:
            raise ValidationError.from_exception_data("Scenario", [
                InitErrorDetails(type=PydanticCustomError("scenario", "{msg}", {"msg": msg}),
                                 loc=tuple(int(p) if p.isdigit() else p for p in field.split(".")) if field else (),
                                 input=None)
                for field, msg in probs])
        return self

    @property
    def parameter_bounds(self) -> dict[str, tuple[float, float]]:
        """{parameter: (lo, hi)} allowed by every use of it; the engine clips draws to it (spec.uses)."""
        from .uses import parameter_bounds

        return parameter_bounds(self)

    def __hash__(self) -> int:  # hashable for caches (st.cache_data, functools)
        return hash(self.content_hash)

    @property
    def periods_per_year(self) -> int:
        return PERIODS_PER_YEAR[self.period]

    @property
    def priors(self) -> dict[str, Prior]:
        return {k: (Fixed(value=v) if isinstance(v, (int, float)) else v) for k, v in self.parameters.items()}

    def with_params(self, **values: float) -> "Scenario":
        """A copy with the named parameters fixed at the given values (``--set``)."""
        from .load import with_params

        return with_params(self, values)

    def canonical_json(self) -> str:
        from .load import canonical_json

        return canonical_json(self)

    @property
    def content_hash(self) -> str:
        from .load import content_hash

        return content_hash(self)
