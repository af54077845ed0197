"""Re-forecast a running contract: the rest of it under the posterior, the observed past held fixed.

``reforecast(scenario, observations, trials=, seed=)`` (docs/monitoring.md, docs/model.md "Monitoring"):

1. the posterior of the named parameters given the observations
   (:mod:`sibsim.posterior`, likelihood in :mod:`sibsim.likelihood`);
2. ``trials`` parameter vectors resampled from it, and for each a whole trial
   of the contract simulated by the engine's own layers
   (:func:`sibsim.engine.contract`: cohorts, payments, measurement, delivery
   costs, early termination) on the run's usual random streams;
3. the observed past spliced in: for periods before ``until``, observed starts
   and engaged replace the trial's (so delivery costs follow them), observed
   outcome counts replace the trial's counts by period of achievement (paid
   at the trial's own average capped price of that outcome, at the rate
   card's payment lag, so outcomes achieved just before ``until`` are paid
   after it), and observed payments replace the trial's payments of those
   periods; volume caps and the contract cap are then applied to the spliced
   flow, so caps consumed by the past limit the future; observed capital drawn
   (a SIB drawing as needed) fixes those periods' delivery cost plus fee
   (a hook of :func:`sibsim.engine.contract`, run before termination);
4. early termination (:mod:`sibsim.termination`) applied to the spliced costs
   and payments as in a run: nothing is spent or paid after a trial's
   contract end, and the SIB settles then;
5. every finance model evaluated on those costs and payments, exactly as
   in a run.

The same construction without step 3, on prior draws and the same random
streams, is the prior forecast it is compared with (given the same parameter
draws, it is the engine's run, number for number). Limits: the future
outcomes of participants who started before ``until`` are drawn given the
posterior parameters, not given each participant's own history (aggregate
counts do not identify it), which widens the forecast a little; a measured
(comparison-group) payment falling after ``until`` is simulated whole.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import draw
from . import finance as fin
from .cohorts import value
from .errors import UsageError
from .finance.cashflows import delivery_cost
from .metrics import per_trial, summarise
from .observe import Observations, counting_scenario, read_observations
from .payments import Payments, _cap_cumulative, _volume_capped
from .posterior import Posterior, posterior, resample
from .run import ModelResult, PATH_TRIALS, Run, _nan_to_none, versions
from .spec import Scenario, load

CHUNK = 5_000


def _splice_payments(sc, params, cohort, obs: Observations | None, measured: np.ndarray):
    """(n, T) outcome payments and (n, K) outcomes achieved, the observed past spliced in (module doc, 3)."""
    rc = sc.rate_card
    T = sc.horizon_periods
    lag = rc.payment_lag_periods
    amt = cohort.amount_tr.copy()
    cnt = cohort.count_tr.copy()
    n, K, _ = amt.shape
    achieved = cohort.achieved_tr.copy()
    paid_obs = np.full(T, np.nan)
    if obs is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            tot_n = cnt.sum(axis=2)
            unit = np.where(tot_n > 0, amt.sum(axis=2) / tot_n, np.nan)
        for k, o in enumerate(sc.outcomes):
            price = np.broadcast_to(np.asarray(value(rc.prices.get(o.name, 0.0), params), float), (n,))
            u_k = np.where(np.isnan(unit[:, k]), np.minimum(price, value(rc.cap_per_participant, params, np.inf)),
                           unit[:, k])
            for i, t in enumerate(obs.periods):
                y = obs.counts[i, k]
                if np.isnan(y):
                    continue
                pp = min(int(t) + lag, T)
                sim = cnt[:, k, pp].copy() if int(t) + lag < T else np.zeros(n)
                if int(t) + lag < T:  # this period's simulated achievers are replaced by the observed ones
                    amt[:, k, pp] += (y - sim) * u_k
                    cnt[:, k, pp] = y
                    achieved[:, k] += y - sim
                # (achieved in the last ``lag`` periods: paid after the horizon, so never paid; the trial's
                # own count of them is lumped with later ones and stays)
        amt = np.maximum(amt, 0.0)
        achieved = np.maximum(achieved, 0.0)
        has = ~np.isnan(obs.payments)
        paid_obs[obs.periods[has]] = obs.payments[has]
    by_period = np.zeros((n, T + 1))
    for k, o in enumerate(sc.outcomes):
        vcap = rc.cap_per_outcome.get(o.name)
        by_period += amt[:, k] if vcap is None else _volume_capped(amt[:, k], cnt[:, k], vcap)
    flow = by_period[:, :T]
    meas = measured.copy()
    fixed = ~np.isnan(paid_obs)
    if fixed.any():  # observed payments are the rate card's when it has prices, else measured ones
        if rc.prices:
            flow[:, fixed] = paid_obs[fixed][None, :]
            meas[:, fixed] = 0.0
        else:
            meas[:, fixed] = paid_obs[fixed][None, :]
            flow[:, fixed] = 0.0
    if rc.cap_total is not None:
        flow = _cap_cumulative(flow, value(rc.cap_total, params))
    return flow + meas, achieved


def _splice_people(sc, cohort, obs: Observations | None):
    if obs is None:
        return cohort.starts, cohort.engaged_starts
    starts = np.array(cohort.starts, dtype=float, copy=True)
    eng = np.array(cohort.engaged_starts, dtype=float, copy=True)
    p = obs.periods
    starts[:, p] = obs.starts[None, :]
    e_obs = np.where(np.isnan(obs.engaged)[None, :], np.minimum(eng[:, p], obs.starts[None, :]), obs.engaged[None, :])
    eng[:, p] = e_obs
    return starts, eng


def _fixed_costs(sc, params, costs, obs: Observations | None) -> np.ndarray:
    """Observed capital drawn fixes a period's delivery cost (a SIB drawing as needed, payments not recycled:
    capital drawn = cost + management fee while the commitment lasts)."""
    s = sc.finance.sib
    if obs is None or sc.finance.model != "sib" or s is None or s.drawdown != "as_needed" or s.recycle_until_period \
            is not None or np.isnan(obs.capital_drawn).all():
        return costs
    n = costs.shape[0]
    fee = np.broadcast_to(np.asarray(value(s.management_fee_per_period, params), float), (n,))
    room = np.inf if s.capital_commitment is None and not s.tranches else (
        sum(np.broadcast_to(np.asarray(value(t.principal, params), float), (n,)) for t in s.tranches)
        if s.tranches else np.broadcast_to(np.asarray(value(s.capital_commitment, params), float), (n,)))
    out = costs.copy()
    drawn = np.zeros(n)
    for i, t in enumerate(obs.periods):
        c = obs.capital_drawn[i]
        if np.isnan(c):
            continue
        drawn = drawn + c
        below = drawn < room - 1e-6  # once the commitment is drawn, drawdowns no longer show the cost
        out[:, t] = np.where(below, np.maximum(c - fee, 0.0), costs[:, t])
    return out


def _splicer(sc, params, obs: Observations):
    """The hook :func:`sibsim.engine.contract` calls before early termination: the observed past spliced into
    the cohort (starts, engaged), the payments and the delivery costs (module doc, 3)."""
    def splice(cohort, rate, pay, costs):
        treated, achieved = _splice_payments(sc, params, cohort, obs, pay.treated - rate.treated)
        starts, eng = _splice_people(sc, cohort, obs)
        cohort = dataclasses.replace(cohort, starts=starts, engaged_starts=eng)
        costs = _fixed_costs(sc, params, delivery_cost(sc, params, cohort), obs)
        return cohort, Payments(treated, pay.counterfactual, achieved, pay.outcomes_cf), costs

    return splice


def simulate_given(sc: Scenario, params: dict[str, np.ndarray], *, seed: int, a: int, b: int,
                   finance: tuple[str, ...] = (), obs: Observations | None = None, from_period: int = 0) -> dict:
    """Per-trial results of trials ``a .. b-1`` with the given (b - a,) parameter draws; with ``obs``,
    the observed past spliced in. The engine's own layers (:func:`sibsim.engine.contract`: cohort, payments,
    measurement, delivery costs, early termination) on its own random streams: without ``obs``, trial ``i``
    has the numbers of ``simulate(sc, seed=seed)`` given the same parameter draws.
    ``remaining_public_cost`` and ``remaining_outcome_payments`` count periods from ``from_period`` on."""
    from .engine import contract

    b0, b1 = a // draw.BLOCK, math.ceil(b / draw.BLOCK)
    d = draw.BlockDraws(seed, b0, b1 - b0, n=draw.rows(a, b))
    off = a - b0 * draw.BLOCK
    full = {}
    for k, v in params.items():
        x = np.full(d.n, v[0], dtype=float)
        x[off:off + (b - a)] = v
        full[k] = x
    P = full
    if obs is None:
        c = contract(sc, P, d, seed=seed, a=a, b=b)
    else:  # counts by period are needed to splice observed outcomes in
        c = contract(sc, P, d, seed=seed, a=a, b=b, participants=counting_scenario(sc), splice=_splicer(sc, P, obs))
    pay, costs, end = c.pay, c.costs, c.end
    treated = pay.treated
    m, ind = per_trial(sc, params=P, pay=pay, costs=costs, starts=c.cohort.starts,
                       engaged_starts=c.cohort.engaged_starts)
    m.update(c.measured[0])
    ind.update(c.measured[1])
    m.update(c.stopped[0])
    ind.update(c.stopped[1])
    ends = {} if end is None else {"end_period": end}
    per_model, vfm, cf = fin.evaluate(sc, P, costs=costs, payments=treated, models=finance, outcomes=pay, **ends)
    ind.update(vfm)
    m.update(c.extra)
    U = from_period
    m["remaining_outcome_payments"] = treated[:, U:].sum(axis=1)
    for name, (mm, _) in per_model.items():  # what the public purse still pays from period U on, per model
        flows = cf if name == sc.finance.model else fin.model_flows(name, sc, P, costs=costs, payments=treated,
                                                                    **ends)
        mm["remaining_public_cost"] = 0.0 - (flows["commissioner"][:, U:] + flows["outcome_fund"][:, U:]).sum(axis=1)
    sl = slice(off, off + (b - a))

    def cut(d, dtype=None):
        return {k: np.ascontiguousarray(v[sl], dtype=dtype) for k, v in d.items()}

    out = {"metrics": cut(m, float), "indicators": cut(ind), "params": cut(full), "paths": {},
           "models": {name: {"metrics": cut(mm, float), "indicators": cut(mi)} for name, (mm, mi) in per_model.items()}}
    if a < PATH_TRIALS:
        keep = slice(off, off + min(b, PATH_TRIALS) - a)
        out["paths"] = {p: f[keep].copy() for p, f in cf.flows.items()}
        out["paths"]["outcome_payments"] = treated[keep].copy()
        out["paths"]["delivery_cost"] = costs[keep].copy()
    return out


def _run(sc, params, *, trials, seed, finance, obs, chunk, from_period) -> Run:
    t0 = time.perf_counter()
    out: dict[str, dict] = {"metrics": {}, "indicators": {}, "params": {}}
    models: dict[str, dict[str, dict]] = {}
    paths: dict[str, list] = {}

    def into(dest, d, a, b):
        for k, v in d.items():
            dest.setdefault(k, np.empty(trials, dtype=v.dtype))[a:b] = v

    for a in range(0, trials, chunk):
        b = min(a + chunk, trials)
        part = simulate_given(sc, {k: v[a:b] for k, v in params.items()}, seed=seed, a=a, b=b, finance=finance,
                              obs=obs, from_period=from_period)
        for g in ("metrics", "indicators", "params"):
            into(out[g], part[g], a, b)
        for name, res in part["models"].items():
            for g in ("metrics", "indicators"):
                into(models.setdefault(name, {}).setdefault(g, {}), res[g], a, b)
        for k, v in part["paths"].items():
            paths.setdefault(k, []).append(v)
    own = models[sc.finance.model]
    return Run(scenario=sc, seed=seed, trials=trials, metrics={**out["metrics"], **own["metrics"]},
               indicators={**out["indicators"], **own["indicators"]},
               params=out["params"], paths={k: np.concatenate(v) for k, v in paths.items()},
               engine_seconds=time.perf_counter() - t0, versions=versions(),
               models={name: ModelResult(name, r["metrics"], r["indicators"]) for name, r in models.items()})


KEY_CHANGES = ("investor_loss", "provider_shortfall", "insolvency", "contract_cap_reached", "terminated_early")


@dataclass(frozen=True)
class Reforecast:
    """A re-forecast: the posterior forecast (``run``, observed past spliced in), the prior forecast on the
    same random streams (``prior_run``), the posterior and the observations."""

    run: Run
    prior_run: Run
    posterior: Posterior
    observations: Observations

    @property
    def observed_until(self) -> int:
        return self.observations.until

    def model(self, name: str):
        return self.run.model(name)

    def changes(self) -> dict:
        """What the observations changed, for each finance model: probabilities (investor loss, triggers met,
        caps reached, ...) and expected remaining public cost and outcome payments, before and after."""
        out = {}
        for name in self.run.finance_models:
            a, b = self.prior_run.model(name), self.run.model(name)
            pa, pb = a.probabilities(), b.probabilities()
            keys = [k for k in pb if k in KEY_CHANGES or k.endswith("_triggered")]
            row = {f"P({k})": {"before": pa[k]["p"], "after": pb[k]["p"]} for k in keys if k in pa}
            for k in ("remaining_public_cost", "remaining_outcome_payments", "outcome_payments", "commissioner_cost"):
                if k in b.metrics:
                    row[f"E[{k}]"] = {"before": float(np.nanmean(a.metrics[k])), "after": float(np.nanmean(b.metrics[k]))}
            out[name] = row
        return out

    def to_dict(self) -> dict:
        """A run's JSON record plus ``observed_until``, ``posterior``/``prior`` ({param: mean, std, p5, p95}),
        ``observations`` (hash, periods), ``diagnostics``, ``prior_forecast`` and ``changes``."""
        d = self.run.to_dict()
        summ = self.posterior.summary()
        keep = ("mean", "std", "p5", "p95")
        diag = {k: v for k, v in self.posterior.diagnostics.items()}
        diag["parameters"] = {k: {"ess": s["posterior"]["ess"], "khat": s["posterior"]["khat"]} for k, s in summ.items()}
        o = self.observations
        d.update({
            "observed_until": o.until,
            "posterior": {k: {s: v["posterior"][s] for s in keep} for k, v in summ.items()},
            "prior": {k: {s: v["prior"][s] for s in keep} for k, v in summ.items()},
            "observations": {"hash": o.content_hash, "periods": [int(t) for t in o.periods],
                             "source": o.meta.get("source", "")},
            "diagnostics": diag,
            "prior_forecast": {"metrics": self.prior_run.metric_summaries(),
                               "probabilities": self.prior_run.probabilities()},
            "changes": self.changes(),
        })
        return d

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(_nan_to_none(_plain(self.to_dict())), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def reforecast(scenario: Scenario | str | Path, observations, *, trials: int, seed: int, finance=(),
               draws: int | None = None, method: str = "auto", chunk: int = CHUNK) -> Reforecast:
    """Re-forecast ``scenario`` given ``observations`` (an :class:`~sibsim.observe.Observations`, a CSV
    path or text): ``trials`` posterior trials and as many prior ones, ``seed`` fixing every number.

    draws: particles for the posterior (default ``trials``); method: "auto" (importance sampling, SMC if
    it fails its diagnostics), "importance" or "smc"; finance: other finance models on the same draws.
    """
    from .engine import _check_int

    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    trials = _check_int("trials", trials, 1)
    seed = _check_int("seed", seed, 0)
    finance = tuple(finance)
    unknown = [f for f in finance if f not in fin.MODELS]
    if unknown:
        raise UsageError(f"finance model {unknown[0]!r} is not known; models: {', '.join(fin.MODELS)}")
    obs = observations if isinstance(observations, Observations) else read_observations(observations, sc)
    names = tuple(o.name for o in sc.outcomes)
    if obs.outcomes != names:
        raise UsageError(f"observations are of outcomes {', '.join(obs.outcomes)}; scenario '{sc.name}' has "
                         f"{', '.join(names)}")
    if obs.until > sc.horizon_periods:
        raise UsageError(f"observations run to period {obs.until - 1}, past the horizon ({sc.horizon_periods} periods)")
    draws = trials if draws is None else _check_int("draws", draws, 10)
    post = posterior(sc, obs, draws=draws, seed=seed, method=method)
    after = resample(post, trials, seed=seed)
    before = {k: np.resize(v, trials) for k, v in post.prior.items()}
    chunk = _check_int("chunk", chunk, 1)
    run = _run(sc, after, trials=trials, seed=seed, finance=finance, obs=obs, chunk=chunk,
               from_period=obs.until)
    prior_run = _run(sc, before, trials=trials, seed=seed, finance=finance, obs=None, chunk=chunk,
                     from_period=obs.until)
    return Reforecast(run, prior_run, post, obs)


def interval(x: np.ndarray, level: float = 0.9) -> tuple[float, float]:
    """Central ``level`` interval of a sample (NaN ignored)."""
    s = summarise(x)
    if level == 0.9:
        return s["p5"], s["p95"]
    a = (1 - level) / 2 * 100
    lo, hi = np.nanpercentile(x, [a, 100 - a])
    return float(lo), float(hi)
