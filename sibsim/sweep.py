"""Sweeps: one simulation per point of a design, all on the same seed.

A point fixes named inputs -- scenario parameters (``job_entry_uplift``) or
rate-card prices (``price.job_entry``) -- and a sweep is the list
``simulate(apply_point(scenario, p), trials=T, seed=S)`` over the points.
Every point uses the same seed: the other parameters and the outcome uniforms are the same numbers at every point
(common random numbers; each parameter has its own stream, see
:mod:`sibsim.draw`), so differences between points are differences of the
inputs, not of luck.

Points run serially, on local processes, or on a Dask cluster, in chunks of
several points a task (:mod:`sibsim.dispatch`); a point's row is a pure
function of (scenario, point, trials, seed), so the results are identical
whichever way they run. With ``out`` given, each finished chunk's points are
appended to a journal beside the output (``OUT.partial``, one JSON line per
point, flushed and fsynced), and the output file is written once, atomically,
when the sweep ends; a sweep started again on the same ``out`` reads the
output and the journal and computes only the points they lack.

Rows hold the point's values, the provenance (``seed``, ``trials``,
``scenario_hash`` of the base scenario), and for every metric
``<metric>_mean``, ``_std``, ``_mcse``, ``_p5``, ``_p50``, ``_p95`` and for
every indicator ``<name>_p`` and ``<name>_se``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .dispatch import _kill_local_workers, client as _client  # noqa: F401  (sibsim.portfolio uses them)
from .errors import UsageError
from .spec import Scenario, load

PRICE = "price."
ROW_STATS = ("mean", "std", "mcse", "p5", "p50", "p95")
STATS = ("mean", "std", "mcse", "p5", "p50", "p95", "pNN (any percentile, e.g. p10)")
PROVENANCE = ("seed", "trials", "scenario_hash")
FORMATS = (".csv", ".parquet")


# ---------------------------------------------------------------- names

def input_names(sc: Scenario) -> list[str]:
    """Names a point may set: the scenario's parameters, then ``price.<outcome>``."""
    return list(sc.parameters) + [PRICE + o.name for o in sc.outcomes]


def uncertain_parameters(sc: Scenario) -> list[str]:
    """Parameters whose prior is not a fixed value (those sensitivity analysis varies)."""
    return [k for k, p in sc.priors.items() if p.dist != "fixed"]


def _list(names: Iterable[str]) -> str:
    return ", ".join(names) or "(none)"


def check_inputs(sc: Scenario, names: Iterable[str], *, option: str = "name") -> None:
    """UsageError listing the names that exist if any of ``names`` is neither a parameter nor a price."""
    known = set(input_names(sc))
    unknown = [n for n in names if n not in known]
    if unknown:
        prices = [PRICE + o.name for o in sc.outcomes]
        raise UsageError(
            f"{option} {', '.join(repr(n) for n in unknown)}: not a parameter or price of scenario "
            f"'{sc.name}'; parameters: {_list(sc.parameters)}; prices: {_list(prices)}"
        )


def apply_point(sc: Scenario, point: Mapping[str, float]) -> Scenario:
    """A copy of ``sc`` with the point's parameters fixed and its prices set.

    Parameters become fixed priors (``Scenario.with_params``); ``price.<outcome>``
    replaces that outcome's rate-card price (a number or a parameter name) by
    the number. The result is validated like any scenario.
    """
    check_inputs(sc, point)
    params = {k: float(v) for k, v in point.items() if not k.startswith(PRICE)}
    prices = {k[len(PRICE):]: float(v) for k, v in point.items() if k.startswith(PRICE)}
    out = sc.with_params(**params) if params else sc
    if prices:
        from .spec import to_dict, validate

        data = to_dict(out)
        data["rate_card"]["prices"].update(prices)
        out = validate(data)
    return out


def output_names(sc: Scenario) -> tuple[list[str], list[str]]:
    """(metric names, indicator names) a run of ``sc`` reports, from the declaration (:mod:`sibsim.outputs`)."""
    from .outputs import expected

    (sm, si), per = expected(sc)
    m, i = per[sc.finance.model]
    return sorted(sm | m), sorted(si | i)


def check_output(sc: Scenario, output: str, stat: str = "mean", *, option: str = "--output") -> None:
    """UsageError listing what exists if ``output`` is not a metric or indicator, or ``stat`` does not apply."""
    metrics, indicators = output_names(sc)
    if output in indicators:
        if stat not in ("p", "se"):
            raise UsageError(f"{option} {output}: an indicator (a probability); its statistics are p and se; "
                             f"got {stat!r}")
        return
    if output not in metrics:
        raise UsageError(f"{option} {output!r}: not a metric of scenario '{sc.name}'; metrics: {_list(metrics)}; "
                         f"probabilities: {_list(indicators)}")
    try:
        _percentile(stat)
    except UsageError as err:
        raise UsageError(f"{option} {output}.{stat}: {err}") from None


def _percentile(stat: str) -> float | None:
    if stat in ROW_STATS[:3]:
        return None
    if stat.startswith("p"):
        try:
            q = float(stat[1:])
        except ValueError:
            q = -1.0
        if 0 <= q <= 100:
            return q
    raise UsageError(f"statistic {stat!r} is not known; statistics: {', '.join(STATS)}")


def statistic(run, output: str, stat: str = "mean") -> float:
    """One summary number of a run: ``stat`` of metric ``output`` (NaNs ignored), or p/se of an indicator."""
    if output in run.indicators:
        from .metrics import probability

        return probability(run.indicators[output])[stat]
    q = _percentile(stat)
    x = np.asarray(run.metrics[output], dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan")
    if q is not None:
        return float(np.percentile(x, q))
    from .metrics import summarise

    return float(summarise(x)[stat])


def summary_row(run) -> dict[str, float]:
    """The summary columns of a sweep row for one run."""
    row = {}
    for m, s in run.metric_summaries().items():
        for st in ROW_STATS:
            row[f"{m}_{st}"] = float(s[st])
    for k, p in run.probabilities().items():
        row[f"{k}_p"] = float(p["p"])
        row[f"{k}_se"] = float(p["se"])
    return row


# ---------------------------------------------------------------- designs

def grid(**values: Sequence[float]) -> list[dict[str, float]]:
    """Every combination of the given values, the first name varying slowest.

    ``grid(**{"price.job_entry": [3000, 3500], "job_entry_uplift": [0.05, 0.1]})``
    """
    if not values:
        raise UsageError("a grid needs at least one name with values")
    names = list(values)
    for n, v in values.items():
        if len(v) == 0:
            raise UsageError(f"grid {n}: no values given")
    from .spec.limits import over

    if msg := over("points", math.prod(len(v) for v in values.values())):
        raise UsageError(f"grid: {msg}")
    return [dict(zip(names, map(float, combo))) for combo in itertools.product(*values.values())]


def lhs(n: int, ranges: Mapping[str, tuple[float, float]], seed: int) -> list[dict[str, float]]:
    """``n`` points of a Latin hypercube over ``ranges`` {name: (low, high)} (scipy.stats.qmc)."""
    from scipy.stats import qmc

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UsageError(f"--lhs must be a whole number >= 1; got {n!r}")
    from .spec.limits import over

    if msg := over("points", n):
        raise UsageError(f"Latin hypercube: {msg}")
    if not ranges:
        raise UsageError("a Latin hypercube needs at least one --range name=low:high")
    for k, (lo, hi) in ranges.items():
        if not hi > lo:
            raise UsageError(f"range {k}: high ({hi}) must be greater than low ({lo})")
    lo = np.array([r[0] for r in ranges.values()], dtype=float)
    hi = np.array([r[1] for r in ranges.values()], dtype=float)
    u = qmc.LatinHypercube(d=len(ranges), seed=np.random.default_rng(seed)).random(int(n))
    x = qmc.scale(u, lo, hi)
    return [dict(zip(ranges, map(float, row))) for row in x]


def _key(point: Mapping[str, float], names: Sequence[str]) -> tuple[float, ...]:
    # 12 significant digits: survives any text round trip of the values
    return tuple(float(f"{float(point[n]):.12g}") for n in names)


def _normalise(sc: Scenario, points) -> tuple[list[str], list[dict[str, float]]]:
    points = [dict(p) for p in points]
    if not points:
        raise UsageError("a sweep needs at least one point")
    names = list(points[0])
    for p in points:
        if set(p) != set(names):
            raise UsageError(f"every point must set the same names; got {sorted(names)} and {sorted(p)}")
    check_inputs(sc, names)
    out = []
    for p in points:
        try:
            out.append({n: float(p[n]) for n in names})
        except (TypeError, ValueError):
            raise UsageError(f"point values must be numbers; got {p}") from None
    check_points(sc, out)
    return names, out


def check_points(sc: Scenario, points: list[dict[str, float]]) -> None:
    """Refuse, before any run or file, a point with a value its uses do not allow (a ScenarioError naming the
    parameter, the use and the range). Uses are ranges, so each input's smallest and largest value (or a
    non-finite one) are checked, each on the base scenario; what depends on several inputs at once is
    checked where each point's scenario is built."""
    values: dict[str, list[float]] = {}
    for p in points:
        for k, v in p.items():
            values.setdefault(k, []).append(v)
    for k, vs in values.items():
        a = np.asarray(vs, dtype=float)
        bad = a[~np.isfinite(a)]
        for v in ([bad[0]] if bad.size else sorted({float(a.min()), float(a.max())})):
            apply_point(sc, {k: v})


# ---------------------------------------------------------------- execution (where: sibsim.dispatch)

def _run_points(context: tuple, items: list) -> list[tuple[int, object]]:
    """One task: several points, ``[(index, reduce(run)), ...]``; each point's scenario is built and
    validated here, in the worker, from the base scenario the context carries."""
    from .engine import simulate

    sc, trials, seed, reduce = context
    return [(i, reduce(simulate(apply_point(sc, p), trials=trials, seed=seed, workers=1))) for i, p in items]


def _warm(sc: Scenario) -> None:
    """Load the engine and build the base scenario's priors' inverse-CDF tables once, before workers fork
    (they inherit them; a point's scenario shares the base's priors but for the ones it fixes)."""
    from . import engine  # noqa: F401  (imports the engine's modules and the compiled passes)

    seen = set()
    for prior in sc.priors.values():
        key = repr(prior)
        if key not in seen:
            seen.add(key)
            prior.ppf(np.array([0.5]))


def execute_chunks(sc: Scenario, points: list[dict], *, trials: int, seed: int, reduce: Callable = summary_row,
                   workers: int | None = None, scheduler=None,
                   meanwhile: Callable[[], None] | None = None) -> Iterator[list[tuple[int, object]]]:
    """Yield ``[(index, reduce(run)), ...]`` for the points of each chunk as it finishes (any order).

    ``scheduler``: None (``workers`` local processes; 1 or None = in this process, a point at a time),
    ``"local"`` (a Dask LocalCluster of ``workers`` processes; None = one a core), a Dask scheduler address
    (``tcp://host:8786``) or a ``distributed.Client``. ``reduce`` must be picklable (a module-level
    function or a partial of one). Workers get the points in contiguous chunks, several a task, build
    and validate each point's scenario themselves and reduce its run to what the caller keeps; local
    workers fork from this process after it has loaded the engine and built the priors' tables
    (:func:`_warm`), so they start warm. ``meanwhile()`` runs here while they compute
    (:func:`sibsim.dispatch.run`).
    """
    from .dispatch import run

    items = list(enumerate(points))
    yield from run(_run_points, (sc, trials, seed, reduce), items, workers=workers, scheduler=scheduler,
                   warm=lambda: _warm(sc), meanwhile=meanwhile)


def execute(sc: Scenario, points: list[dict], **kw) -> Iterator[tuple[int, object]]:
    """Yield ``(index, reduce(run))`` for each point as it finishes (any order); see :func:`execute_chunks`."""
    for part in execute_chunks(sc, points, **kw):
        yield from part


def evaluate(scenario, points: Sequence[Mapping[str, float]], *, trials: int, seed: int,
             reduce: Callable = summary_row, workers: int | None = None, scheduler=None,
             progress: bool = False, meanwhile: Callable[[], None] | None = None) -> list:
    """``[reduce(simulate(apply_point(scenario, p), trials, seed)) for p in points]``, in parallel if asked.

    Repeated points are computed once. No files are written (see :func:`sweep`).
    """
    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    names, pts = _normalise(sc, points)
    keys = [_key(p, names) for p in pts]
    first: dict = {}
    for k, p in zip(keys, pts):
        first.setdefault(k, p)
    uniq = list(first)
    todo = list(first.values())
    results = {}
    bar = _bar(progress, len(todo), 0)
    try:
        for i, res in execute(sc, todo, trials=trials, seed=seed, reduce=reduce, workers=workers,
                              scheduler=scheduler, meanwhile=meanwhile):
            results[uniq[i]] = res
            if bar:
                bar.update()
    finally:
        if bar:
            bar.close()
    return [results[k] for k in keys]


def _bar(progress: bool, total: int, initial: int):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="point", leave=False)


# ---------------------------------------------------------------- files

def _check_out(out) -> Path:
    p = Path(out)
    if p.suffix.lower() not in FORMATS:
        raise UsageError(f"--out {out}: the output must end in .csv or .parquet")
    if not p.resolve().parent.is_dir():
        raise UsageError(f"--out {out}: directory {p.resolve().parent} does not exist")
    return p


def journal_path(out) -> Path:
    """Where a sweep writing ``out`` journals its finished points."""
    p = Path(out)
    return p.with_name(p.name + ".partial")


def read_table(path) -> "pandas.DataFrame":  # noqa: F821
    """A sweep output file (CSV or Parquet) as a DataFrame, floats read back exactly."""
    import pandas as pd

    p = Path(path)
    if p.suffix.lower() == ".parquet":
        return pd.read_parquet(p)
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}  # pandas 3: default
    return pd.read_csv(p, dtype={"scenario_hash": str}, **exact)


def _write_table(df, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() == ".parquet":
        df.to_parquet(tmp, index=False, engine="pyarrow")
    else:
        df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _read_journal(path: Path) -> list[dict]:
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by an interruption
                continue
    return rows


def _previous(out: Path, names: list[str], prov: dict) -> dict[tuple, dict]:
    """Rows already computed for this sweep (output file, then journal), by point key."""
    rows = []
    if out.exists():
        try:
            rows += read_table(out).to_dict("records")
        except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
            raise UsageError(f"--out {out}: exists but cannot be read as a sweep ({err}); remove it or choose "
                             "another output") from None
    rows += _read_journal(journal_path(out))
    done = {}
    for r in rows:
        missing = [c for c in (*names, *PROVENANCE) if c not in r]
        if missing:
            raise UsageError(f"--out {out}: holds a different sweep (no column {missing[0]!r}); remove it or "
                             "choose another output")
        if any(str(r[c]) != str(prov[c]) for c in PROVENANCE):
            got = ", ".join(f"{c}={r[c]}" for c in PROVENANCE)
            want = ", ".join(f"{c}={prov[c]}" for c in PROVENANCE)
            raise UsageError(f"--out {out}: holds results for {got}, not {want}; remove it or choose another output")
        done[_key(r, names)] = r
    return done


def _check_same_design(out: Path, done: dict, by_key: dict) -> None:
    """Refuse to resume into ``out`` when it holds points this design lacks: writing the new sweep there
    would drop them. A design that keeps every point already computed (and may add more) resumes."""
    extra = [k for k in done if k not in by_key]
    if extra:
        names = list(next(iter(by_key.values()))) if by_key else []
        eg = ", ".join(f"{n}={v:g}" for n, v in zip(names, extra[0]))
        raise UsageError(f"--out {out}: holds {len(extra)} point{'s' if len(extra) != 1 else ''} that this sweep's "
                         f"design lacks (e.g. {eg}); a sweep resumes only into an output of the same design: "
                         "remove it or choose another output")


# ---------------------------------------------------------------- the sweep

def _import_pandas() -> None:
    import pandas  # noqa: F401


def sweep(scenario, points: Sequence[Mapping[str, float]], *, trials: int, seed: int, workers: int | None = None,
          scheduler=None, progress: bool = False, out=None,
          callback: Callable[[dict], None] | None = None) -> "pandas.DataFrame":  # noqa: F821
    """Simulate every point on the same seed; one row per (distinct) point, in the order given.

    ``scenario``: a Scenario or a path. ``points``: dicts of name -> value
    (parameters or ``price.<outcome>``; see :func:`grid`, :func:`lhs`).
    ``workers``/``scheduler``: see :func:`execute`; the rows do not depend on
    them. ``out`` (.csv or .parquet): resume from and write to this file (see
    the module docstring); an ``out`` holding points the design lacks is refused (UsageError), never overwritten. ``callback(row)`` is called after each newly
    computed point has been journalled.
    """
    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    names, pts = _normalise(sc, points)
    from .engine import _check_int

    trials, seed = _check_int("trials", trials, 1), _check_int("seed", seed, 0)
    prov = {"seed": seed, "trials": trials, "scenario_hash": sc.content_hash}
    keys = list(dict.fromkeys(_key(p, names) for p in pts))
    by_key = {}
    for p in pts:
        by_key.setdefault(_key(p, names), p)
    out = None if out is None else _check_out(out)
    done = {}
    if out is not None:
        done = _previous(out, names, prov)
        _check_same_design(out, done, by_key)
    todo = [k for k in keys if k not in done]
    journal = None
    if out is not None:
        jp = journal_path(out)
        if jp.exists() and not jp.read_text().endswith("\n"):  # drop a line cut short, atomically
            tmp = jp.with_name(f".{jp.name}.tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in _read_journal(jp)))
            os.replace(tmp, jp)
        journal = open(jp, "a")
    bar = _bar(progress, len(keys), len(keys) - len(todo))
    try:
        # pandas (for the table) is imported while the workers compute, not before or after them
        for part in execute_chunks(sc, [by_key[k] for k in todo], trials=trials, seed=seed, workers=workers,
                                   scheduler=scheduler, meanwhile=_import_pandas):
            rows = [{**by_key[todo[i]], **prov, **summ} for i, summ in part]
            for (i, _), row in zip(part, rows):
                done[todo[i]] = row
            if journal:  # a chunk's rows, made durable together
                journal.write("".join(json.dumps(row) + "\n" for row in rows))
                journal.flush()
                os.fsync(journal.fileno())
            for row in rows:
                if bar:
                    bar.update()
                if callback:
                    callback(row)
    finally:
        if bar:
            bar.close()
        if journal:
            journal.close()
    import pandas as pd

    df = pd.DataFrame([done[k] for k in keys])
    df = df[[*names, *PROVENANCE, *[c for c in df.columns if c not in names and c not in PROVENANCE]]]
    if out is not None:
        _write_table(df, out)
        journal_path(out).unlink(missing_ok=True)
    df.attrs["reused"] = len(keys) - len(todo)  # after writing: not part of the file
    return df
