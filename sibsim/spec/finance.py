"""The ``finance`` and ``appraisal`` sections of a scenario (docs/model.md s.8-11; docs/finance.md).

``finance`` says who pays delivery costs and who bears the risk: the model the
scenario is (``sib``, ``pbr``, ``fee``, ``hybrid``) and the terms of each, all
of which every run can evaluate on the same draws. ``appraisal`` says what the
outcomes are worth to the public sector, for value for money.

Every new field is optional and defaults to ``None`` (read as the documented
default), so scenarios that do not use a feature keep their canonical JSON and
content hash. Each number declares its use in its type (``Share``, ``Money``,
``Rate``: ``spec.base.Use``), which checks a number given directly and, through
``spec.uses``, the prior of a parameter named there; checks that need the rest
of the scenario (outcome names, the horizon) are in :func:`finance_problems`,
for ``spec.load.semantic_problems`` to call.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .base import FrozenDict, Money, Rate, Share, Use, Value, _M  # noqa: F401  (Money, Rate, Share: field uses)
from .limits import MAX_AMOUNT


NonNegative = Annotated[Value, Use("a non-negative number", 0, MAX_AMOUNT, hi_is_limit=True)]


def _within(lo: float | None = None, hi: float | None = None, what: str = "a number") -> Use:
    """The use of a number in [lo, hi] (kept for fields written as ``Annotated[Value, _within(lo, hi)]``)."""
    return Use(what, lo, hi)

DEFAULT_WTP_GRID = (0.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0, 50_000.0, 100_000.0)


class Tranche(_M):
    """One class of capital in a SIB, paid by waterfall in the order listed (senior first)."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="e.g. senior, subordinate")
    principal: Money = Field(description="capital committed by this tranche; drawdowns are pro rata to it")
    coupon_annual: Rate | None = Field(
        None, description="interest on the balance owed, compounding; the tranche is repaid principal plus "
                          "this return and no more. Omitted: the tranche takes all that is left (most junior only)")
    holder: Literal["investor", "provider"] = Field(
        "investor", description="'provider': the provider defers this share of its fees and is repaid from "
                                "outcome payments (Massachusetts), so it funds that share of costs itself")
    guarantee_share: Share | None = Field(None, description="overrides finance.sib.guarantee_share for this tranche")


class Sib(_M):
    capital_commitment: Money | None = Field(None, description="investor capital; unlimited if omitted "
                                                               "(the sum of the tranches if tranches are given)")
    drawdown: Literal["as_needed", "upfront", "schedule"] = Field(
        "as_needed", description="as costs fall; all committed capital in period 0; or drawdown_schedule")
    drawdown_schedule: tuple[float, ...] | None = Field(
        None, description="amount drawn at the end of each period from 0 (drawdown: schedule); the provider "
                          "bears any cost the capital drawn so far does not cover")
    management_fee_per_period: Money = Field(0.0, description="intermediary fee, funded by investors")
    intermediary_fee_share: Share | None = Field(
        None, description="share of each outcome payment kept by the intermediary before distributions (default 0)")
    return_cap_annual: Rate | None = Field(None, description="investors' return is capped at this annual rate")
    excess_to: Literal["commissioner", "provider"] = Field(
        "commissioner", description="who gets what is left once every tranche is repaid (or capped): "
                                    "'commissioner' refunds the outcome payers in proportion to their shares")
    guarantee_share: Share = Field(0.0, description="share of investors' principal loss repaid by a guarantor")
    guarantee_amount: Money | None = Field(
        None, description="a guarantee of a fixed amount: the guarantor repays investors' principal loss up to "
                          "this sum (with guarantee_share > 0, that share of the loss, up to this sum)")
    tranches: tuple[Tranche, ...] | None = Field(
        None, description="senior first; drawn pro rata to principal, repaid by waterfall (principal plus coupon)")
    pass_through_share: Share | None = Field(
        None, description="while investors are owed, this share of each payment goes to them and the payers "
                          "keep the rest (Utah: 0.95); default 1")
    recycle_until_period: int | None = Field(
        None, ge=0, description="outcome payments received up to this period fund later costs instead of being "
                                "distributed (capital recycling, Essex); the balance is distributed after it")

    @field_validator("drawdown_schedule")
    @classmethod
    def _schedule_nonneg(cls, v):
        bad = [x for x in v or () if not (math.isfinite(x) and x >= 0)]
        if bad:
            raise ValueError(f"drawdowns must be >= 0; got {bad[0]}")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        t = self.tranches
        if self.drawdown == "schedule" and self.drawdown_schedule is None:
            raise ValueError("drawdown 'schedule' needs drawdown_schedule (the amount drawn in each period)")
        if self.drawdown != "schedule" and self.drawdown_schedule is not None:
            raise ValueError(f"drawdown_schedule is only used with drawdown: schedule; got drawdown: {self.drawdown}")
        if self.drawdown == "upfront" and self.capital_commitment is None and not t:
            raise ValueError("drawdown 'upfront' needs capital_commitment (or tranches): how much to draw")
        if t is not None:
            if not t:
                raise ValueError("tranches: give at least one tranche, or omit tranches")
            names = [x.name for x in t]
            if len(set(names)) != len(names):
                raise ValueError(f"tranches: names must be unique; got {names}")
            open_ended = [x.name for x in t[:-1] if x.coupon_annual is None]
            if open_ended:
                raise ValueError(f"tranches: only the most junior (last) tranche may omit coupon_annual; "
                                 f"'{open_ended[0]}' has none, so nothing would reach the tranches after it")
            if self.return_cap_annual is not None:
                raise ValueError("return_cap_annual cannot be combined with tranches: give each tranche its "
                                 "coupon_annual instead")
            if not any(x.holder == "investor" for x in t) and self.capital_commitment is not None:
                raise ValueError("capital_commitment is given but every tranche is held by the provider")
            total = [x.principal for x in t]
            if self.capital_commitment is not None:
                if all(isinstance(p, float) for p in total) and isinstance(self.capital_commitment, float):
                    s = sum(total)
                    if abs(s - self.capital_commitment) > 1e-6 * max(1.0, s):
                        more = "more" if s > self.capital_commitment else "less"
                        raise ValueError(f"tranches add up to {s:,.0f}, {more} than capital_commitment "
                                         f"{self.capital_commitment:,.0f}; they must agree "
                                         "(or omit capital_commitment)")
                else:
                    raise ValueError("give the capital either as capital_commitment or as tranches, not both, "
                                     "when either is a parameter")
        if self.drawdown == "schedule" and self.drawdown_schedule is not None:
            cap = self.capital_commitment if self.capital_commitment is not None else (
                sum(x.principal for x in t) if t and all(isinstance(x.principal, float) for x in t) else None)
            if isinstance(cap, float) and sum(self.drawdown_schedule) > cap * (1 + 1e-9):
                raise ValueError(f"drawdown_schedule draws {sum(self.drawdown_schedule):,.0f} in all, more than "
                                 f"the capital {cap:,.0f}")
        return self


class Termination(_M):
    """Early termination (docs/model.md s.8.3): the contract stops at the end of a period.

    At the end of period ``t_end`` (``at_period``, or the payment period of the
    first listed measurement point whose trigger is not met, whichever comes
    first) delivery stops: no cost falls and no outcome payment is made after
    it; a SIB settles then (unspent capital returned, the guarantee paid).
    ``guarantee_amount``: on early termination the guarantor pays this fixed
    sum (at most the investors' principal loss) in place of ``finance.sib``'s
    guarantee terms (New York Rikers Island, 2015: USD 6m of USD 7.2m drawn).
    """

    at_period: int | None = Field(None, ge=0, description="the contract's last period (it stops at its end)")
    on_failed_points: tuple[str, ...] = Field(
        (), description="measurement points: if one's trigger is not met, the contract stops at its payment period")
    guarantee_amount: Money | None = Field(
        None, description="fixed sum a guarantor pays towards investors' principal loss on early termination")

    @model_validator(mode="after")
    def _some_rule(self):
        if self.at_period is None and not self.on_failed_points:
            raise ValueError("termination needs at_period or on_failed_points (or both)")
        return self


class Provider(_M):
    """The provider's own money, for every model: what it can draw on when the contract leaves it short.

    Defaults (omitted fields) scale with the contract: reserves and an
    overdraft limit of three months of the trial's average delivery cost per
    period (over periods with any cost), at 8% a year. These are modest on
    purpose: many small charities hold less than three to six months of
    spending (a common sector rule of thumb), and payment-by-results working
    capital is the risk NCVO and the sector press describe.
    Assumptions, not sources: set them for the provider you have in mind.
    """

    reserves: Money | None = Field(None, description="cash the provider starts with (default: 3 months of cost)")
    overdraft_limit: Money | None = Field(None, description="most it can borrow (default: 3 months of cost); "
                                                            "insolvent if its cash falls below minus this")
    overdraft_rate_annual: Rate | None = Field(None, description="interest on an overdrawn balance (default 0.08)")
    annual_turnover: Money | None = Field(
        None, description="the provider's whole income in a year, all activities (for readiness: the share of "
                          "turnover at risk); omitted: not reported")


class Fee(_M):
    margin: NonNegative = Field(0.0, description="fee for service: cost times (1 + margin)")


class Hybrid(_M):
    fee_share: Share = Field(0.5, description="share h of cost paid as a fee; outcome payments are scaled by 1 - h")


FINANCE_MODELS = ("sib", "pbr", "fee", "hybrid")
TC_PARTIES = ("commissioner", "outcome_fund", "provider", "investor", "intermediary")


class TransactionCost(_M):
    """A cost of putting together or running the contract (issue 13; docs/model.md, transaction costs).

    Paid by ``party`` under each finance model in ``models`` (default: every
    model; investor costs: the SIB only) to outside advisers, lawyers and
    evaluators: a ``one_off`` amount at the end of ``period`` (development:
    legal, structuring, evaluation design, due diligence) and/or ``per_period``
    in ``periods`` (contract and performance management, evaluation, investor
    monitoring). Each amount is a number or a parameter with a prior.
    ``scale_elasticity`` says how the cost grows with the contract when a size
    sweep scales the cohort (sibsim.scale): cost times size ** elasticity
    (0: fixed whatever the size; 1: proportional).
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="e.g. legal_development")
    party: Literal["commissioner", "outcome_fund", "provider", "investor", "intermediary"]
    models: tuple[Literal["sib", "pbr", "fee", "hybrid"], ...] | None = Field(
        None, description="finance models it applies to (default: all; investor costs: sib)")
    one_off: Money | None = Field(None, description="paid once, at the end of period")
    period: int = Field(0, ge=0, description="period of the one-off payment")
    per_period: Money | None = Field(None, description="paid every period in periods")
    periods: tuple[int, int] | None = Field(
        None, description="first and last period (inclusive) of the recurring cost; default the whole horizon")
    scale_elasticity: float = Field(0.0, ge=0, le=1, description="cost grows as size ** this in a size sweep")
    source: str = Field("", description="where the number comes from (report, URL) or ASSUMPTION")

    @model_validator(mode="after")
    def _some_cost(self):
        if self.one_off is None and self.per_period is None:
            raise ValueError("give one_off and/or per_period (the amount)")
        if self.periods is not None and self.per_period is None:
            raise ValueError("periods is only used with per_period")
        if self.periods is not None and self.periods[0] > self.periods[1]:
            raise ValueError(f"periods: first must be <= last; got {list(self.periods)}")
        if self.party == "investor" and self.models is not None and set(self.models) - {"sib"}:
            raise ValueError(f"investors take part in the sib model only; got models {list(self.models)}")
        return self

    @property
    def applies_to(self) -> tuple[str, ...]:
        if self.models is not None:
            return self.models
        return ("sib",) if self.party == "investor" else FINANCE_MODELS


class Finance(_M):
    model: Literal["sib", "pbr", "fee", "hybrid"] = Field(
        "sib", description="the scenario's own model; others can be run on the same draws (--finance)")
    sib: Sib = Sib()
    provider: Provider | None = Field(None, description="the provider's reserves and overdraft (all models)")
    fee: Fee | None = Field(None, description="fee for service (also the fee part of a hybrid)")
    hybrid: Hybrid | None = None
    transaction_costs: tuple[TransactionCost, ...] | None = Field(
        None, description="development and running costs by party and finance model (sibsim.finance.transaction)")


class Appraisal(_M):
    """Value for money (HM Treasury Green Book): what additional outcomes are worth and what they cost.

    Value per additional outcome (fiscal or social, e.g. Unit Cost Database
    figures), discounted at ``discount_rate_annual`` (default: the scenario's,
    3.5% a year as in the Green Book). The financial case is nominal
    (``commissioner_cost``); the economic case is discounted and uplifts the
    cost-reimbursing part of public spending (fees) by ``optimism_bias``.
    ``fee_effect_share`` is the share of the effect that a fee-for-service
    contract keeps without outcome-based incentives: an assumption users set
    (default 1, no difference), and what makes the SIB-versus-fee
    acceptability curve depend on willingness to pay.
    """

    value_per_outcome: FrozenDict(str, Annotated[Value, Use("a value per outcome", -MAX_AMOUNT, MAX_AMOUNT)]) = Field(
        default_factory=dict, description="public value of one additional outcome, by outcome name (default 0)")
    discount_rate_annual: float | None = Field(None, ge=0, le=1, description="default: the scenario's rate")
    optimism_bias: NonNegative = Field(
        0.0, description="uplift on cost-reimbursing payments (fees), e.g. up to 0.41 for outsourced operating costs")
    fee_effect_share: Share = Field(1.0, description="share of the effect kept without outcome-based payment")
    wtp_grid: tuple[float, ...] = Field(
        DEFAULT_WTP_GRID, min_length=1, description="willingness to pay per additional outcome, for the "
                                                    "acceptability curve")
    effect_outcomes: tuple[str, ...] | None = Field(
        None, description="outcomes counted as 'an additional outcome' (default: all, summed)")

    @field_validator("wtp_grid")
    @classmethod
    def _grid(cls, v):
        bad = [x for x in v if not (math.isfinite(x) and x >= 0)]
        if bad:
            raise ValueError(f"willingness to pay must be >= 0; got {bad[0]}")
        if len(set(v)) != len(v):
            raise ValueError(f"values must be distinct; got {list(v)}")
        return tuple(sorted(v))


def finance_problems(sc) -> list[tuple[str, str]]:
    """Cross-field checks of ``finance`` and ``appraisal`` against the rest of the scenario.

    Outcome names must be outcomes, periods must lie within the horizon
    (parameter names and their priors are checked against each field's use by
    ``spec.uses``). Returns ``(field, message)`` pairs.
    """
    probs: list[tuple[str, str]] = []
    s = sc.finance.sib
    T = sc.horizon_periods
    if s.recycle_until_period is not None and s.recycle_until_period >= T:
        probs.append(("finance.sib.recycle_until_period",
                      f"must be a period before the horizon (0 .. {T - 1}); got {s.recycle_until_period}"))
    if s.drawdown_schedule is not None and len(s.drawdown_schedule) > T:
        probs.append(("finance.sib.drawdown_schedule",
                      f"has {len(s.drawdown_schedule)} periods, more than horizon_periods ({T})"))
    probs += termination_problems(sc)
    tcs = sc.finance.transaction_costs or ()
    tc_names = [tc.name for tc in tcs]
    for i, tc in enumerate(tcs):
        if tc_names.count(tc.name) > 1:
            probs.append((f"finance.transaction_costs.{i}.name", f"names must be unique; '{tc.name}' is repeated"))
        if tc.one_off is not None and tc.period >= T:
            probs.append((f"finance.transaction_costs.{i}.period",
                          f"must be a period before the horizon (0 .. {T - 1}); got {tc.period}"))
        if tc.periods is not None and tc.periods[1] >= T:
            probs.append((f"finance.transaction_costs.{i}.periods",
                          f"must lie within the horizon (0 .. {T - 1}); got {list(tc.periods)}"))
    a = getattr(sc, "appraisal", None)
    if a is not None:
        names = [o.name for o in sc.outcomes]
        for k in a.value_per_outcome:
            if k not in names:
                probs.append((f"appraisal.value_per_outcome.{k}",
                              f"'{k}' is not an outcome; outcomes: {', '.join(names)}"))
        for k in a.effect_outcomes or ():
            if k not in names:
                probs.append(("appraisal.effect_outcomes", f"'{k}' is not an outcome; outcomes: {', '.join(names)}"))
    return probs


def termination_problems(sc) -> list[tuple[str, str]]:
    """``termination`` against the horizon and the measurement points it names."""
    term = getattr(sc, "termination", None)
    if term is None:
        return []
    probs = []
    T = sc.horizon_periods
    if term.at_period is not None and term.at_period >= T:
        probs.append(("termination.at_period", f"must be a period inside the horizon (0 .. {T - 1}); "
                                               f"got {term.at_period}"))
    points = [p.name for p in sc.measurement.points] if getattr(sc, "measurement", None) is not None else []
    for i, name in enumerate(term.on_failed_points):
        if name not in points:
            probs.append((f"termination.on_failed_points.{i}",
                          f"'{name}' is not a measurement point; points: {', '.join(points) or '(none)'}"))
    return probs
