"""Provider readiness: can a provider of a given size carry this contract under each finance model?

For each finance model, on the same draws (common random numbers):

- **P(insolvency)** at the provider's reserves (``finance.provider.reserves``,
  or ``reserves=``): the share of trials in which its balance falls below
  minus its overdraft limit (:mod:`sibsim.finance.provider`);
- **reserves needed** to keep P(insolvency) at or below ``risk``: the
  smallest reserves ``R`` with that property, found by bisection over ``R``
  on the run's trials (each trial's balance path is recomputed at ``R``,
  overdraft interest included, and a trial's insolvency can only go away as
  ``R`` grows, so the share is monotone in ``R``). It is an empirical
  (1 - risk) quantile of what each trial needs, so it carries Monte Carlo
  error: ``reserves_mcse`` is its standard error from the binomial
  order-statistic interval (the quantile's 68% interval halved);
- **peak working capital**: the deepest the provider's running cash from the
  contract goes (before reserves), mean, P50 and P95, and the period in which
  it falls (median over trials);
- **turnover at risk**: with ``annual_turnover`` given, the P95 peak working
  capital and the (1 - risk) quantile of the provider's loss on the contract
  (value at risk) as shares of a year's turnover, and the contract's average
  yearly income as a share of it.

Transaction costs the provider pays (bids, data systems) are in its cash
(:mod:`sibsim.finance.transaction`). Reserves scale readiness questions of
the kind the voluntary sector raises about payment by results (NCVO, Lloyds
Bank Foundation); the numbers here are what a finance lead needs to answer
them for one contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .cohorts import value
from .errors import UsageError
from .finance import MODELS
from .finance.provider import OVERDRAFT_MONTHS, OVERDRAFT_RATE_ANNUAL, RESERVE_MONTHS, months_of_cost, provider_account
from .trialflows import all_flows, check_models

MODEL_LABELS = {"sib": "Social impact bond", "pbr": "Direct payment by results", "fee": "Fee for service",
                "hybrid": "Hybrid (part fee)"}


def provider_terms(sc, params, costs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reserves, overdraft limit, overdraft rate per period), each (n,): the scenario's or the defaults."""
    p = sc.finance.provider
    n, ppy = costs.shape[0], sc.periods_per_year

    def term(name, months):
        v = getattr(p, name) if p is not None else None
        x = months_of_cost(costs, months, ppy) if v is None else value(v, params)
        return np.broadcast_to(np.asarray(x, dtype=float), (n,))

    rate = p.overdraft_rate_annual if p is not None else None
    rate = OVERDRAFT_RATE_ANNUAL if rate is None else value(rate, params)
    rate_pp = (1 + np.broadcast_to(np.asarray(rate, dtype=float), (n,))) ** (1 / ppy) - 1
    return term("reserves", RESERVE_MONTHS), term("overdraft_limit", OVERDRAFT_MONTHS), rate_pp


def insolvent_at(raw, reserves, limit, rate_pp) -> np.ndarray:
    """(n,) bool: insolvent with ``reserves`` given the provider's contract cash ``raw`` (n, T) before interest."""
    from .finance.cashflows import cash_flows

    cf = cash_flows(raw.shape, provider=raw)
    return provider_account(cf, reserves=reserves, overdraft_limit=limit, rate_per_period=rate_pp).extra["insolvency"]


def reserves_for(raw, *, limit, rate_pp, risk: float, tol: float = 1.0) -> float:
    """Smallest reserves (to ``tol``) with P(insolvency) <= ``risk`` on these trials (bisection)."""
    if np.mean(insolvent_at(raw, 0.0, limit, rate_pp)) <= risk:
        return 0.0
    lo, hi = 0.0, max(1.0, float(np.max(-np.minimum(np.cumsum(raw, axis=1), 0.0).min(axis=1))))
    while np.mean(insolvent_at(raw, hi, limit, rate_pp)) > risk:  # interest can need more than the deepest cash
        lo, hi = hi, hi * 2
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if np.mean(insolvent_at(raw, mid, limit, rate_pp)) <= risk:
            hi = mid
        else:
            lo = mid
    return hi


def per_trial_need(raw, *, limit, rate_pp, tol: float = 1.0) -> np.ndarray:
    """(n,) the reserves each trial needs to stay solvent (vectorised bisection; for the quantile's error)."""
    n = raw.shape[0]
    lo = np.zeros(n)
    hi = np.full(n, max(1.0, float(np.max(-np.minimum(np.cumsum(raw, axis=1), 0.0).min(axis=1)))))
    while True:
        bad = insolvent_at(raw, hi, limit, rate_pp)
        if not bad.any():
            break
        lo, hi = np.where(bad, hi, lo), np.where(bad, hi * 2, hi)
    ok0 = ~insolvent_at(raw, np.zeros(n), limit, rate_pp)
    while np.max(hi - lo) > tol:
        mid = 0.5 * (lo + hi)
        bad = insolvent_at(raw, mid, limit, rate_pp)
        lo, hi = np.where(bad, mid, lo), np.where(bad, hi, mid)
    return np.where(ok0, 0.0, hi)


def _quantile_se(need: np.ndarray, q: float) -> float:
    """Standard error of the empirical q-quantile from the binomial order-statistic 68% interval."""
    n = need.size
    s = np.sort(need)
    half = np.sqrt(n * q * (1 - q))
    i_lo = int(np.clip(np.floor(n * q - half), 0, n - 1))
    i_hi = int(np.clip(np.ceil(n * q + half), 0, n - 1))
    return float(s[i_hi] - s[i_lo]) / 2


@dataclass(frozen=True)
class ModelReadiness:
    model: str
    reserves: float  # the provider's reserves used for p_insolvency (mean over trials if they vary)
    p_insolvency: float
    p_insolvency_se: float
    reserves_needed: float
    reserves_mcse: float
    peak_working_capital_mean: float
    peak_working_capital_p50: float
    peak_working_capital_p95: float
    peak_period_p50: float  # period (0-based) of the deepest point, median over trials with a shortfall
    p_shortfall: float  # share of trials in which contract cash ever goes below zero
    surplus_mean: float
    loss_var: float  # (1 - risk) quantile of the provider's loss on the contract (0 if it never loses)
    turnover_share_peak: float | None  # P95 peak working capital / annual turnover
    turnover_share_var: float | None
    contract_share_of_turnover: float | None  # average yearly contract income / annual turnover


@dataclass(frozen=True)
class Readiness:
    scenario: str
    currency: str
    period: str
    periods_per_year: int
    trials: int
    seed: int
    risk: float
    annual_turnover: float | None
    models: tuple[ModelReadiness, ...] = field(default_factory=tuple)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([m.__dict__ for m in self.models]).set_index("model")

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "models"}
        d["models"] = {m.model: {k: v for k, v in m.__dict__.items() if k != "model"} for m in self.models}
        return d


def _with_provider(sc, **fields):
    """``sc`` with provider fields replaced (validated again)."""
    from .spec import to_dict, validate

    data = to_dict(sc)
    prov = data["finance"].setdefault("provider", {})
    prov.update({k: float(v) for k, v in fields.items() if v is not None})
    return validate(data)


def readiness(sc, *, trials: int = 10_000, seed: int = 1, risk: float = 0.05, models=tuple(MODELS),
              reserves: float | None = None, annual_turnover: float | None = None,
              overdraft_limit: float | None = None) -> Readiness:
    """Readiness of the scenario's provider under each of ``models`` (see the module docstring).

    ``reserves`` / ``annual_turnover`` / ``overdraft_limit`` override ``finance.provider`` (amounts in the
    scenario's currency).
    """
    if not 0 < risk < 1:
        raise UsageError(f"risk must be a probability between 0 and 1 (exclusive); got {risk}")
    for name, v in (("reserves", reserves), ("annual_turnover", annual_turnover),
                    ("overdraft_limit", overdraft_limit)):
        if v is not None and not (np.isfinite(v) and v >= 0):
            raise UsageError(f"{name} must be a finite amount >= 0; got {v}")
    if reserves is not None or annual_turnover is not None or overdraft_limit is not None:
        sc = _with_provider(sc, reserves=reserves, annual_turnover=annual_turnover, overdraft_limit=overdraft_limit)
    models = check_models(models)
    res = all_flows(sc, trials=trials, seed=seed, models=models)
    costs = res["costs"]
    R, limit, rate_pp = provider_terms(sc, res["params"], costs)
    p = sc.finance.provider
    turnover = None if p is None or p.annual_turnover is None else float(np.mean(value(p.annual_turnover,
                                                                                     res["params"])))
    years = sc.horizon_periods / sc.periods_per_year
    out = []
    for m in models:
        cf = res["flows"][m]
        raw = cf["provider"] + cf["lender"]  # the contract's cash before overdraft interest
        ins = cf.extra["insolvency"]
        need = per_trial_need(raw, limit=limit, rate_pp=rate_pp)
        found = reserves_for(raw, limit=limit, rate_pp=rate_pp, risk=risk)
        run_cash = np.cumsum(raw, axis=1)
        peak = -run_cash.min(axis=1)
        short = peak > 0.005  # half a penny: below that is rounding
        peak = np.where(short, peak, 0.0)
        when = run_cash.argmin(axis=1)
        loss = np.maximum(-cf["provider"].sum(axis=1), 0.0)
        var = float(np.quantile(loss, 1 - risk))
        income = np.maximum(raw + costs, 0.0).sum(axis=1)  # what the provider is paid (fees, outcomes, capital)
        pn = float(ins.mean())
        out.append(ModelReadiness(
            model=m, reserves=float(np.mean(R)), p_insolvency=pn, p_insolvency_se=float(np.sqrt(pn * (1 - pn) / trials)),
            reserves_needed=found, reserves_mcse=_quantile_se(need, 1 - risk),
            peak_working_capital_mean=float(peak.mean()), peak_working_capital_p50=float(np.median(peak)),
            peak_working_capital_p95=float(np.quantile(peak, 0.95)),
            peak_period_p50=float(np.median(when[short])) if short.any() else float("nan"),
            p_shortfall=float(short.mean()), surplus_mean=float(cf["provider"].sum(axis=1).mean()), loss_var=var,
            turnover_share_peak=None if not turnover else float(np.quantile(peak, 0.95)) / turnover,
            turnover_share_var=None if not turnover else var / turnover,
            contract_share_of_turnover=None if not turnover else float(income.mean()) / years / turnover))
    return Readiness(scenario=sc.name, currency=sc.currency, period=sc.period, periods_per_year=sc.periods_per_year,
                     trials=trials, seed=seed, risk=risk, annual_turnover=turnover, models=tuple(out))
