"""Portfolios: an outcomes fund's total spend across many contracts, simulated on common draws.

A portfolio (:mod:`sibsim.spec.portfolio`) lists contracts; each copy of a
contract is an *instance* with its own seed, derived from the portfolio's
seed and the instance's position in the file
(``SeedSequence(seed, spawn_key=(13, index))``), so instances are
independent unless they share something:

- ``shared`` parameters: each contract's uniform for the parameter is mixed
  with a common one drawn from the portfolio's seed,
  ``u = Phi(sqrt(rho) z_common + sqrt(1 - rho) z_own)`` (a one-factor
  Gaussian copula; ``rho = 1`` uses the common uniform itself, so every
  contract of the kind draws the same value);
- ``shocks``: one draw per trial from the shock's prior multiplies the named
  parameters in every contract that has them (probabilities are clipped to
  [0, 1] where the engine uses them).

Each instance then runs the ordinary engine layers (:mod:`sibsim.trialflows`)
under its scenario's own finance model. Per trial the run keeps the payer's
spend (``payer``: the central outcome fund, the local commissioner, or
both; outcome payments net of any SIB refunds, plus that payer's transaction
costs) by calendar year (a period's cash counts in the year its midpoint
falls in), each instance's total spend, whether it paid anything, and
investors' net gain in each SIB. Trials are computed in chunks, serially, on
local processes or on a Dask cluster; every number depends only on
``(portfolio, seed, trial)``, so results are identical whichever way they
run (docs/model.md s.8 for the seed tree).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from scipy import special

from . import draw
from .errors import UsageError
from .errors import ScenarioError
from .spec.portfolio import read_portfolio
from .trialflows import chunks, contract_flows

SHARED, SHOCK, INSTANCE = 11, 12, 13


def _key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


def instance_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th contract instance: independent streams for every instance."""
    s = np.random.SeedSequence(seed, spawn_key=(INSTANCE, index)).generate_state(2, np.uint32)
    return int(s[0]) << 32 | int(s[1])


@dataclass(frozen=True)
class Instance:
    index: int
    contract: str
    copy: int
    kind: str
    start_year: float
    seed: int


def instances(pf, seed: int) -> list[Instance]:
    out = []
    for c in pf.contracts:
        for k in range(c.count):
            i = len(out)
            start = c.start_year + (k * c.every_months / 12 if c.every_months else 0.0)
            out.append(Instance(i, c.name, k, c.kind or c.name, start, instance_seed(seed, i)))
    return out


class SharedDraws(draw.BlockDraws):
    """A contract instance's draws, with some parameter streams mixed with the portfolio's common ones.

    shared: {parameter stream: (common stream key, rho)}
    """

    def __init__(self, seed, first_block, n_blocks, *, common_seed: int, shared: dict):
        super().__init__(seed, first_block, n_blocks)
        self.common_seed = common_seed
        self.shared = shared

    def uniform(self, stream, shape=(), dtype=np.float64, out=None):
        spec = self.shared.get(stream) if isinstance(stream, tuple) else None
        if spec is None:
            return super().uniform(stream, shape, dtype, out)
        key, rho = spec
        u = draw.BlockDraws(self.common_seed, self.first_block, self.n_blocks).uniform((SHARED, key), shape, dtype)
        if rho < 1:
            own = super().uniform(stream, shape, dtype)
            z = (math.sqrt(rho) * special.ndtri(np.clip(u, 1e-16, 1 - 1e-16))
                 + math.sqrt(1 - rho) * special.ndtri(np.clip(own, 1e-16, 1 - 1e-16)))
            u = special.ndtr(z)
        if out is not None:
            out[...] = u
            return out
        return u


def _shared_for(pf, inst: Instance, sc) -> dict:
    out = {}
    for s in pf.shared:
        if s.kinds is not None and inst.kind not in s.kinds:
            continue
        for p in s.parameters:
            if p in sc.parameters:
                out[draw.param_stream(p)] = (_key(f"{s.name}.{p}"), s.rho)
    return out


def _shock_hook(pf, inst: Instance, sc, common_seed: int):
    shocks = [s for s in pf.shocks if (s.kinds is None or inst.kind in s.kinds)
              and any(p in sc.parameters for p in s.multiplies)]
    if not shocks:
        return None

    def hook(params, d):
        params = dict(params)
        for s in shocks:
            u = draw.BlockDraws(common_seed, d.first_block, d.n_blocks).uniform((SHOCK, _key(s.name)))
            m = s.prior.ppf(u)
            for p in s.multiplies:
                if p in params:
                    params[p] = params[p] * m
        return params

    return hook


def _years(pf, scenarios) -> tuple[int, ...]:
    lo, hi = [], []
    for inst in instances(pf, 0):
        sc = scenarios[inst.contract]
        lo.append(math.floor(inst.start_year))
        hi.append(math.floor(inst.start_year + (sc.horizon_periods - 0.5) / sc.periods_per_year))
    return tuple(range(min(lo), max(hi) + 1))


def _payer_flows(cf, payer: str) -> np.ndarray:
    if payer == "public":
        return -(cf["commissioner"] + cf["outcome_fund"])
    return -cf[payer]


def portfolio_range(pf, scenarios: dict, seed: int, a: int, b: int) -> dict:
    """Per-trial results of trials ``a .. b-1`` (see the module docstring)."""
    years = _years(pf, scenarios)
    insts = instances(pf, seed)
    n = b - a
    by_year = np.zeros((n, len(years)))
    spend = np.zeros((n, len(insts)))
    paid = np.zeros((n, len(insts)), dtype=bool)
    gain = np.full((n, len(insts)), np.nan)
    for inst in insts:
        sc = scenarios[inst.contract]
        own = sc.finance.model
        res = contract_flows(sc, inst.seed, a, b, models=(own,),
                             draws=partial(SharedDraws, common_seed=seed, shared=_shared_for(pf, inst, sc)),
                             params_hook=_shock_hook(pf, inst, sc, seed))
        cf = res["flows"][own]
        flows = _payer_flows(cf, pf.payer)
        T = flows.shape[1]
        yr = np.floor(inst.start_year + (np.arange(T) + 0.5) / sc.periods_per_year).astype(int) - years[0]
        np.add.at(by_year.T, yr, flows.T)
        spend[:, inst.index] = flows.sum(axis=1)
        paid[:, inst.index] = res["payments"].sum(axis=1) > 0
        if own == "sib":
            gain[:, inst.index] = cf["investor"].sum(axis=1)
    return {"by_year": by_year, "spend": spend, "paid": paid, "investor_gain": gain}


@dataclass(frozen=True)
class PortfolioRun:
    """Per-trial results of a portfolio: ``by_year`` (trials, years), the rest (trials, instances)."""

    portfolio: object
    seed: int
    trials: int
    years: tuple[int, ...]
    instances: tuple[Instance, ...]
    by_year: np.ndarray
    spend: np.ndarray
    paid: np.ndarray
    investor_gain: np.ndarray
    scenarios: dict = field(default_factory=dict, repr=False)

    @property
    def total(self) -> np.ndarray:
        """(trials,) the payer's total spend across the portfolio."""
        return self.by_year.sum(axis=1)

    def p_over_budget(self) -> dict:
        b = self.portfolio.budget
        if b is None:
            return {"p": float("nan"), "se": float("nan")}
        p = float(np.mean(self.total > b))
        return {"p": p, "se": math.sqrt(p * (1 - p) / self.trials)}

    def per_contract(self):
        """pandas DataFrame, one row per contract: spend (mean), share of the total, share of its variance
        (Euler allocation: Cov(X_j, S) / Var(S)), P(it pays anything), investors' mean net gain and P(loss)."""
        import pandas as pd

        S = self.total
        vs = S.var(ddof=1) if self.trials > 1 else float("nan")
        rows = []
        for c in self.portfolio.contracts:
            idx = [i.index for i in self.instances if i.contract == c.name]
            x = self.spend[:, idx].sum(axis=1)
            g = self.investor_gain[:, idx]
            sib = not np.isnan(g).all()
            rows.append({"contract": c.name, "count": c.count, "start": c.start, "kind": c.kind or c.name,
                         "spend_mean": float(x.mean()), "share_of_total": float(x.mean() / S.mean()) if S.mean() else
                         float("nan"),
                         "share_of_variance": float(np.cov(x, S)[0, 1] / vs) if vs and vs == vs else float("nan"),
                         "p_pays_anything": float(self.paid[:, idx].mean()),
                         "investor_gain_mean": float(np.nansum(g, axis=1).mean()) if sib else float("nan"),
                         "p_investor_loss": float((g < 0).mean()) if sib else float("nan")})
        return pd.DataFrame(rows).set_index("contract")

    def by_year_table(self):
        """pandas DataFrame, one row per calendar year: mean, P5, P50, P95 of the payer's spend."""
        import pandas as pd

        y = self.by_year
        return pd.DataFrame({"year": self.years, "mean": y.mean(axis=0), "p5": np.percentile(y, 5, axis=0),
                             "p50": np.percentile(y, 50, axis=0), "p95": np.percentile(y, 95, axis=0)}).set_index("year")

    def summary(self) -> dict:
        S = self.total
        g = self.investor_gain
        sib = ~np.isnan(g).all(axis=0)
        loss = np.where(np.isnan(g), 0.0, np.maximum(-g, 0.0)).sum(axis=1)
        net = np.nansum(g, axis=1)
        share = self.paid.mean(axis=1)
        n = self.trials
        q = np.percentile(S, [5, 50, 95])
        out = {"trials": n, "seed": self.seed, "instances": len(self.instances), "payer": self.portfolio.payer,
               "budget": self.portfolio.budget,
               "total_mean": float(S.mean()), "total_sd": float(S.std(ddof=1)) if n > 1 else 0.0,
               "total_mcse": float(S.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
               "total_p5": float(q[0]), "total_p50": float(q[1]), "total_p95": float(q[2]),
               "p_over_budget": self.p_over_budget(),
               "share_of_contracts_paying_mean": float(share.mean()),
               "p_every_contract_pays": float(np.mean(share == 1.0))}
        if sib.any():
            p = float(np.mean(net < 0))
            out.update({"sib_contracts": int(sib.sum()), "investor_net_gain_mean": float(net.mean()),
                        "investor_losses_mean": float(loss.mean()), "investor_losses_p95": float(np.percentile(loss, 95)),
                        "p_investors_lose_overall": {"p": p, "se": math.sqrt(p * (1 - p) / n)},
                        "share_of_sibs_losing_mean": float((g[:, sib] < 0).mean())})
        return out

    def to_dict(self) -> dict:
        return {"portfolio": self.portfolio.name, "summary": self.summary(),
                "by_year": self.by_year_table().reset_index().to_dict(orient="records"),
                "contracts": self.per_contract().reset_index().to_dict(orient="records")}


def load_portfolio(path: str | Path):
    """(Portfolio, {contract name: Scenario}) from a portfolio file: each contract's scenario loaded (paths
    relative to the file), its parameters set, scaled to its participants and given its capital; every
    problem names its field."""
    from .scale import participants_of, scale_scenario
    from .spec import load, to_dict, validate

    path = Path(path)
    pf = read_portfolio(path)
    scenarios, probs = {}, []
    for i, c in enumerate(pf.contracts):
        f = path.parent / c.scenario
        if not f.is_file():
            probs.append((f"contracts.{i}.scenario", f"no such file: {c.scenario} (relative to {path.name})"))
            continue
        sc = load(f)
        unknown = [k for k in c.set if k not in sc.parameters]
        if unknown:
            probs.append((f"contracts.{i}.set", f"'{unknown[0]}' is not a parameter of {c.scenario}; "
                                                f"parameters: {', '.join(sorted(sc.parameters))}"))
            continue
        if c.set:
            sc = sc.with_params(**c.set)
        if c.participants is not None:
            sc = scale_scenario(sc, c.participants / participants_of(sc))
        if c.capital is not None:
            d = to_dict(sc)
            d["finance"].setdefault("sib", {})["capital_commitment"] = c.capital
            d["finance"]["sib"].pop("tranches", None)
            sc = validate(d)
        scenarios[c.name] = sc
    for j, s in enumerate(pf.shared):
        for p in s.parameters:
            if not any(p in sc.parameters for sc in scenarios.values()):
                probs.append((f"shared.{j}.parameters", f"'{p}' is not a parameter of any contract's scenario"))
    for j, s in enumerate(pf.shocks):
        for p in s.multiplies:
            if not any(p in sc.parameters for sc in scenarios.values()):
                probs.append((f"shocks.{j}.multiplies", f"'{p}' is not a parameter of any contract's scenario"))
    kinds = {c.kind or c.name for c in pf.contracts}
    for j, s in enumerate((*pf.shared, *pf.shocks)):
        for k in s.kinds or ():
            if k not in kinds:
                sec = "shared" if j < len(pf.shared) else "shocks"
                probs.append((f"{sec}.{j if j < len(pf.shared) else j - len(pf.shared)}.kinds",
                              f"'{k}' is not a contract kind; kinds: {', '.join(sorted(kinds))}"))
    if probs:
        raise ScenarioError(probs, source=str(path))
    return pf, scenarios


def _run_range(pf, scenarios, seed, a, b):
    return a, portfolio_range(pf, scenarios, seed, a, b)


def simulate_portfolio(portfolio, *, trials: int, seed: int, workers: int | None = None, scheduler=None,
                       chunk: int = 2_000, scenarios: dict | None = None) -> PortfolioRun:
    """Run a portfolio (a file path, or a Portfolio with its ``scenarios``) for ``trials`` trials.

    ``workers`` local processes (None or 1: this process), or ``scheduler``:
    ``"local"`` (a Dask LocalCluster of ``workers`` processes; None: one a
    core), a scheduler address
    (``tcp://host:8786``) or a ``distributed.Client``. The numbers do not
    depend on ``workers``, ``scheduler`` or ``chunk``.
    """
    if isinstance(portfolio, (str, Path)):
        pf, scenarios = load_portfolio(portfolio)
    else:
        pf = portfolio
        if scenarios is None:
            raise UsageError("give the contracts' scenarios with a Portfolio (or pass the portfolio file)")
    for name, v, lo in (("trials", trials, 1), ("seed", seed, 0), ("chunk", chunk, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise UsageError(f"{name} must be a whole number >= {lo}; got {v!r}")
    ranges = chunks(trials, chunk)
    parts = {}
    if scheduler is not None:
        from .sweep import _client  # noqa: PLC2701  (the one Dask connection helper)

        from .sweep import _kill_local_workers  # noqa: PLC2701

        client, closers = _client(scheduler, workers)
        finished = False
        try:
            futs = [client.submit(_run_range, pf, scenarios, seed, a, b, pure=False) for a, b in ranges]
            for a, res in client.gather(futs):
                parts[a] = res
            finished = True
        finally:
            if not finished and scheduler == "local":  # an error, Ctrl-C or SIGTERM: stop the workers now
                _kill_local_workers(closers[-1])
            for c in closers:
                c.close()
    elif workers is None or workers == 1 or len(ranges) == 1:
        for a, b in ranges:
            parts[a] = portfolio_range(pf, scenarios, seed, a, b)
    else:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise UsageError(f"workers must be a whole number >= 1; got {workers!r}")
        from concurrent.futures import ProcessPoolExecutor
        from .procs import bound_workers, forking, mp_context, stop_executor, worker_init

        workers = bound_workers(workers)
        # as the engine's pool (sibsim.procs): workers ignore Ctrl-C and die with this process
        ex = ProcessPoolExecutor(max_workers=min(workers, len(ranges)), mp_context=mp_context(),
                                 initializer=worker_init, initargs=(os.getpid(),))
        try:
            with forking():  # map submits every chunk: the first submit forks the workers
                results = ex.map(_run_range, *zip(*[(pf, scenarios, seed, a, b) for a, b in ranges]))
            for a, res in results:
                parts[a] = res
        except BaseException:  # an error, Ctrl-C or SIGTERM: stop the workers now, not after the queued chunks
            stop_executor(ex)
            raise
        ex.shutdown(wait=True)
    order = sorted(parts)
    cat = {k: np.concatenate([parts[a][k] for a in order]) for k in parts[order[0]]}
    return PortfolioRun(portfolio=pf, seed=seed, trials=trials, years=_years(pf, scenarios),
                        instances=tuple(instances(pf, seed)), scenarios=dict(scenarios), **cat)


def cpu_workers() -> int:
    return os.cpu_count() or 1
