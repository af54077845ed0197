"""simulate(scenario, *, trials, seed) -> Run: the Monte Carlo core, chunked over trials.

A chunk of trials flows one way through the layers: parameters (dists, draw)
-> participants and outcomes in both worlds (cohorts) -> outcome payments
(payments) -> delivery costs and each party's cash (finance) -> per-trial
metrics (metrics). Chunks are independent and run in worker processes for
large runs; every random number is addressed by (seed, stream, block of
trials), so results do not depend on the chunk size or worker count.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
import os
from collections import deque
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from . import draw
from .cohorts import simulate_cohort
from .dists import apply_copula, correlation_matrix
from .errors import UsageError
from .procs import bound_workers, cores, forking, mp_context, stop_executor, worker_init
from .finance.cashflows import delivery_cost
from . import finance as fin
from .metrics import per_trial
from .outputs import check_run_outputs as check_outputs, unit
from .measure import add_measured
from .payments import rate_card
from .run import PATH_TRIALS, ModelResult, Run, versions
from .termination import contract_end, stop
from .spec import Scenario, load
from .summaries import KEEP, RESERVOIR_SIZE, Summary

DEFAULT_CHUNK = 5_000
PARALLEL_FROM = 20_000
DELIVERY_CHUNK = 250


def sample_params(sc: Scenario, d: draw.BlockDraws) -> dict[str, np.ndarray]:
    """(n,) draws of every named parameter, through the Gaussian copula if correlated."""
    names = sorted(sc.parameters)  # canonical order: the copula must not depend on how the file lists them
    priors = sc.priors
    if not names:
        return {}
    u = np.stack([d.uniform(draw.param_stream(nm)) for nm in names], axis=1)
    if sc.correlations:
        cm = correlation_matrix(names, [(c.a, c.b, c.rho) for c in sc.correlations])
        u = apply_copula(u, np.linalg.cholesky(cm))
    # a draw of an unbounded prior outside the range its uses allow (at most 0.1% of them: spec.uses) is clipped
    bounds = sc.parameter_bounds
    return {nm: np.clip(priors[nm].ppf(u[:, j]), *bounds.get(nm, (-np.inf, np.inf))) for j, nm in enumerate(names)}


@dataclass(frozen=True)
class Contract:
    """What every finance model of one chunk shares: the cohort, payments owed, delivery costs, the last period.

    ``measured``/``stopped``: (metrics, indicators) of the measurement and of early termination; ``extra``:
    the delivery model's metrics; ``end``: (n,) last period of the contract, or None when it runs to the horizon.
    """

    cohort: object
    pay: object
    costs: np.ndarray
    end: np.ndarray | None
    measured: tuple
    stopped: tuple
    extra: dict


def contract(sc: Scenario, params: dict, d: draw.BlockDraws, *, seed: int, a: int, b: int,
             participants: Scenario | None = None, splice=None) -> Contract:
    """The layers before finance for the chunk of ``d`` holding trials ``a .. b-1``: delivery -> cohort ->
    payments (rate card, measured) -> delivery costs -> early termination. Shared by the engine, readiness,
    portfolios and re-forecasts, so a construct added here reaches them all.

    ``params``: (d.n,) draws of every parameter (the engine's from :func:`sample_params`, or given).
    Re-forecasts (:mod:`sibsim.reforecasting`) also pass ``participants``, the scenario of the participant
    pass (``sc`` with payment counts kept), and ``splice(cohort, rate, pay, costs) -> (cohort, pay, costs)``
    (``rate``: the rate card's payments alone), which puts the observed past in before early termination."""
    extra = {}
    who = sc if participants is None else participants
    if sc.delivery is not None:
        starts, engaged, extra = _delivery(sc, params, seed, a, b, d.first_block, d.n)
        cohort = simulate_cohort(who, params, d, delivery_starts=starts, delivery_engaged=engaged)
    else:
        cohort = simulate_cohort(who, params, d)
    pay = rate = rate_card(sc, params, cohort)
    measured = ({}, {})
    if sc.measurement is not None:  # payments on measured improvement (docs/model.md s.6, sibsim.measure)
        pay, *measured = add_measured(sc, params, cohort, d, pay)
    costs = delivery_cost(sc, params, cohort)
    if splice is not None:  # a re-forecast's observed past (sibsim.reforecasting)
        cohort, pay, costs = splice(cohort, rate, pay, costs)
    end, stopped = None, ({}, {})
    if sc.termination is not None:  # early termination (docs/model.md s.8.3, sibsim.termination)
        end = contract_end(sc, d.n, measured[0])
        pay, costs, *stopped = stop(sc, end, pay, costs)
    return Contract(cohort, pay, costs, end, tuple(measured), tuple(stopped), extra)


def simulate_range(sc: Scenario, seed: int, a: int, b: int, finance: tuple[str, ...] = ()) -> dict:
    """Every per-trial result for trials ``a .. b-1`` (computed from the first block's first trial to
    ``b - 1``, then cut)."""
    b0, b1 = a // draw.BLOCK, math.ceil(b / draw.BLOCK)
    d = draw.BlockDraws(seed, b0, b1 - b0, n=draw.rows(a, b))
    params = sample_params(sc, d)
    c = contract(sc, params, d, seed=seed, a=a, b=b)
    cohort, pay, costs, end, measured, stopped, extra = c.cohort, c.pay, c.costs, c.end, c.measured, c.stopped, c.extra
    m, ind = per_trial(sc, params=params, pay=pay, costs=costs, starts=cohort.starts,
                       engaged_starts=cohort.engaged_starts)
    m.update(measured[0])
    ind.update(measured[1])
    m.update(stopped[0])
    ind.update(stopped[1])
    per_model, vfm, cf = fin.evaluate(sc, params, costs=costs, payments=pay.treated, models=finance, outcomes=pay,
                                      **({} if end is None else {"end_period": end}))
    ind.update(vfm)
    m.update(extra)
    check_outputs(sc, shared=(m, ind), models=per_model, layer="simulate")
    off = a - b0 * draw.BLOCK
    sl = slice(off, off + (b - a))

    def cut(d, dtype=None):
        return {k: np.ascontiguousarray(v[sl], dtype=dtype) for k, v in d.items()}

    def counts(d):  # counts kept as the integers they are (issue 15: memory), other metrics as float64
        return {k: compact(k, v) for k, v in cut(d, float).items()}

    out = {
        "metrics": counts(m),
        "indicators": cut(ind),
        "params": cut(params),
        "models": {name: {"metrics": counts(mm), "indicators": cut(mi)} for name, (mm, mi) in per_model.items()},
        "paths": {},
    }
    if a < PATH_TRIALS:
        keep = slice(off, off + min(b, PATH_TRIALS) - a)
        out["paths"] = {p: f[keep].copy() for p, f in cf.flows.items()}
        out["paths"]["outcome_payments"] = pay.treated[keep].copy()
        out["paths"]["delivery_cost"] = costs[keep].copy()
    return out


_INTEGRAL_UNITS = ("count", "periods")
_I32 = np.iinfo(np.int32)


def compact(name: str, v: np.ndarray) -> np.ndarray:
    """A count (or period) metric as int32 when every value is a whole number in int32's range that int32
    gives back bit for bit (float64 otherwise): 4 bytes a trial instead of 8, and the same number."""
    if unit(name) not in _INTEGRAL_UNITS or not v.size:
        return v
    lo, hi = v.min(), v.max()  # NaN propagates: the comparisons below fail
    if not (_I32.min <= lo and hi <= _I32.max):
        return v
    i = v.astype(np.int32)
    # bit for bit: a -0.0 (an outcome to reduce that did not change: 0 * -1) stays float, as the CSV writes it
    return i if np.array_equal(i.astype(np.float64).view(np.int64), v.view(np.int64)) else v


def _delivery(sc: Scenario, params, seed: int, a: int, b: int, b0: int, n: int | None = None):
    """Run the delivery model for trials a..b-1 only (it is costly), padded to the chunk's ``n`` trials
    (by default its whole blocks)."""
    from .delivery import simulate_delivery

    if params:
        n = len(next(iter(params.values())))
    elif n is None:
        n = (math.ceil(b / draw.BLOCK) - b0) * draw.BLOCK
    off = a - b0 * draw.BLOCK
    sub = {k: v[off:off + (b - a)] for k, v in params.items()}
    res = simulate_delivery(sc.delivery, sub, horizon_periods=sc.horizon_periods, seed=seed, trial_offset=a,
                            n_trials=b - a, max_participants=sc.participants.max_participants)
    T = sc.horizon_periods
    starts = np.zeros((n, T), np.int64)
    engaged = np.zeros((n, T), np.int64)
    starts[off:off + (b - a)] = res.starts
    engaged[off:off + (b - a)] = res.engaged
    metrics = {}
    for k, v in res.metrics.items():
        full = np.full(n, np.nan)
        full[off:off + (b - a)] = v
        metrics[k] = full
    return starts, engaged, metrics


def _delivery_engine() -> str:
    from .delivery.run import engine_choice

    return engine_choice(None)


_BLAS_LIMIT = None


def _blas_limit():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _one_blas_thread() -> None:
    """Worker initialiser: the processes already use every core, so BLAS threads only contend."""
    global _BLAS_LIMIT
    _BLAS_LIMIT = _blas_limit()


def _check_int(name: str, v, lo: int, limit: str | None = None) -> int:
    """A whole number >= ``lo`` (and within ``sibsim.spec.limits`` ``limit``, with the limit in the message)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise UsageError(f"{name} must be a whole number >= {lo}; got {v!r}")
    if limit is not None:
        from .spec.limits import over

        msg = over(limit, int(v))
        if msg:
            raise UsageError(f"{name}: {msg}")
    return int(v)


def simulate(scenario: Scenario | str | Path, *, trials: int, seed: int, chunk: int | None = None,
             workers: int | None = None, progress=False, finance: tuple[str, ...] | list[str] = (),
             keep: str = "all", reservoir: int = RESERVOIR_SIZE) -> Run:
    """Run ``trials`` Monte Carlo trials of ``scenario`` with ``seed``.

    ``chunk`` bounds memory (trials computed at once, default 5,000);
    ``workers`` processes share the chunks (default: every core for runs of
    20,000 trials or more). Neither changes any number. ``progress`` shows a
    progress bar once a run has taken more than two seconds; a callable is
    called instead as ``progress(trials_done, trials)`` after each chunk (the app's bar). ``finance`` names
    other finance models to run on the same draws (see :data:`sibsim.finance.MODELS`).

    ``keep="summary"`` keeps no per-trial results: summaries are streamed chunk by chunk and a uniform
    sample of ``reservoir`` trials is kept for the percentiles (:mod:`sibsim.summaries`); the draws, and
    every mean, sd and probability, are those of ``keep="all"``.
    """
    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    trials = _check_int("trials", trials, 1, "trials")
    finance = tuple(finance)
    unknown = [f for f in finance if f not in fin.MODELS]
    if unknown:
        raise UsageError(f"finance model {unknown[0]!r} is not known; models: {', '.join(fin.MODELS)}")
    seed = _check_int("seed", seed, 0)
    if keep not in KEEP:
        raise UsageError(f"keep must be one of {', '.join(map(repr, KEEP))}; got {keep!r}")
    reservoir = _check_int("reservoir", reservoir, 1)
    summary = Summary(seed, trials, sc.finance.model, reservoir) if keep == "summary" else None
    events = sc.delivery is not None and _delivery_engine() == "simpy"  # slow events: smaller chunks, parallel sooner
    chunk = _check_int("chunk", (DELIVERY_CHUNK if events else DEFAULT_CHUNK) if chunk is None else chunk, 1, "chunk")
    if workers is None:
        workers = cores() if trials >= (2 * DELIVERY_CHUNK if events else PARALLEL_FROM) else 1
    workers = bound_workers(_check_int("workers", workers, 1))
    ranges = [(a, min(a + chunk, trials)) for a in range(0, trials, chunk)]
    t0 = time.perf_counter()
    bar = None
    report = progress if callable(progress) else None
    done = [0]
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=trials, unit="trial", delay=2, leave=False)
    out: dict[str, dict[str, np.ndarray]] = {}
    models: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    paths: dict[str, list[np.ndarray]] = {}

    def collect(part: dict, a: int, b: int) -> None:
        """Copy a chunk's results into run-sized arrays (allocated once: memory stays near one copy)."""
        def into(dest, d):
            for k, v in d.items():
                if k not in dest:
                    dest[k] = np.empty(trials, dtype=v.dtype)
                elif v.dtype != dest[k].dtype and np.result_type(v, dest[k]) != dest[k].dtype:
                    dest[k] = dest[k].astype(float)  # a count that was whole numbers no longer is (exact)
                dest[k][a:b] = v

        if summary is not None:
            summary.add(part, a, b)  # streamed: nothing per trial kept but the reservoir's sample
        else:
            for group in ("metrics", "indicators", "params"):
                into(out.setdefault(group, {}), part[group])
            for name, res in part["models"].items():
                for group in ("metrics", "indicators"):
                    into(models.setdefault(name, {}).setdefault(group, {}), res[group])
        for k, v in part["paths"].items():
            paths.setdefault(k, []).append(v)
        if bar:
            bar.update(b - a)
        if report is not None:
            done[0] += b - a
            report(done[0], trials)

    if workers == 1 or len(ranges) == 1:
        # small matrix products: BLAS threads only spin (below 1,000 trials too small to be split: the limit
        # would cost more, 8 ms, than the run)
        with _blas_limit() if trials >= 1_000 else contextlib.nullcontext():
            for a, b in ranges:
                collect(simulate_range(sc, seed, a, b, finance), a, b)
    else:
        ex = ProcessPoolExecutor(max_workers=min(workers, len(ranges)), mp_context=mp_context(),
                                 initializer=worker_init, initargs=(os.getpid(), _one_blas_thread))
        try:
            pending = deque()  # a few chunks ahead of the one collected, so finished results do not pile up
            todo = iter(ranges)
            with forking():  # the first submit forks the workers
                for a, b in todo:
                    pending.append((ex.submit(simulate_range, sc, seed, a, b, finance), a, b))
                    if len(pending) >= 2 * workers:
                        break
            while pending:
                f, a, b = pending.popleft()
                collect(f.result(), a, b)
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append((ex.submit(simulate_range, sc, seed, *nxt, finance), *nxt))
        except BaseException:  # an error, Ctrl-C or SIGTERM: stop the workers now, not after the queued chunks
            stop_executor(ex)
            raise
        ex.shutdown(wait=True)
    if bar:
        bar.close()
    if summary is not None:
        return Run.summarised(sc, seed=seed, trials=trials, stats=summary.finish(),
                              paths={k: np.concatenate(v) for k, v in paths.items()},
                              engine_seconds=time.perf_counter() - t0, versions=versions())
    own = models[sc.finance.model]
    return Run(scenario=sc, seed=seed, trials=trials, metrics={**out["metrics"], **own["metrics"]},
               indicators={**out.get("indicators", {}), **own["indicators"]},
               params=out.get("params", {}), paths={k: np.concatenate(v) for k, v in paths.items()},
               engine_seconds=time.perf_counter() - t0, versions=versions(),
               models={name: ModelResult(name, r["metrics"], r["indicators"]) for name, r in models.items()})
