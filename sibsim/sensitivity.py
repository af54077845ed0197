"""Global and one-at-a-time sensitivity analysis of a scenario's outputs (SALib).

The model analysed is ``f(x) = stat(metric)`` of ``simulate(scenario with the
parameters fixed at x, trials=T, seed=S)``: a point in the space of uncertain
parameters maps to one summary number (the mean of ``investor_net_gain`` by
default). What is decomposed is the variance that the sampled parameters
cause; the outcome (aleatory) noise left inside each evaluation uses the same
seed at every point (common random numbers), so it does not masquerade as a
parameter effect. Parameters left out of ``names`` keep their priors and are
averaged over inside each evaluation.

As in SALib, the methods are thin layers over plain data: a ``ranges`` dict
{name: (low, high)} and a model, any function from an ``(N, D)`` array to
``(N,)`` outputs. :func:`analyse_sobol`, :func:`analyse_morris` and
:func:`analyse_tornado` take any such model (the Ishigami function in the
tests); :func:`sensitivity` builds the model from a scenario.

Ranges: Sobol and Morris sample uniformly between each prior's 1st and 99th
percentiles (a uniform prior: its bounds). Tornado sets each parameter to its
prior's 10th and then 90th percentile with every other uncertain parameter at
its median.

References: Saltelli et al. (2010), Variance based sensitivity analysis of
model output, Comput. Phys. Commun. 181; Morris (1991), Technometrics 33;
Campolongo, Cariboni & Saltelli (2007) for ``mu_star``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import UsageError
from .spec import Scenario, load
from .sweep import check_output, evaluate, statistic, uncertain_parameters

METHODS = ("sobol", "morris", "tornado")
Model = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SensitivityResult:
    """Indices by parameter, with what produced them.

    indices: name -> {"S1", "S1_conf", "ST", "ST_conf"} (Sobol; ``_conf`` is the
      half-width of the 95% bootstrap interval), {"mu", "mu_star",
      "mu_star_conf", "sigma"} (Morris, in output units per range), or
      {"low_value", "high_value", "low", "high", "swing"} (tornado: the
      parameter's P10/P90 and the output there; swing = |high - low|).
    """

    method: str
    names: tuple[str, ...]
    indices: Mapping[str, Mapping[str, float]]
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    evaluations: int = 0
    base: float | None = None
    meta: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            **dict(self.meta),
            "evaluations": self.evaluations,
            **({"base": self.base} if self.base is not None else {}),
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "parameters": {k: dict(v) for k, v in self.indices.items()},
        }

    def to_frame(self):
        """pandas DataFrame: one row per parameter, one column per index."""
        import pandas as pd

        df = pd.DataFrame.from_dict({k: dict(v) for k, v in self.indices.items()}, orient="index")
        df.index.name = "parameter"
        return df

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(_clean(self.to_dict()), indent=2)
        if path is not None:
            p = Path(path)
            tmp = p.with_name(f".{p.name}.tmp")
            tmp.write_text(text + "\n")
            tmp.replace(p)
        return text

    def ranking(self, key: str | None = None) -> list[str]:
        """Parameter names, most influential first (by ST, mu_star or swing)."""
        key = key or {"sobol": "ST", "morris": "mu_star", "tornado": "swing"}[self.method]
        return sorted(self.names, key=lambda n: -np.nan_to_num(self.indices[n][key], nan=-np.inf))


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _problem(ranges: Mapping[str, tuple[float, float]]) -> dict:
    if not ranges:
        raise UsageError("sensitivity analysis needs at least one uncertain parameter")
    for k, (lo, hi) in ranges.items():
        if not hi > lo:
            raise UsageError(f"range of {k}: high ({hi}) must be greater than low ({lo})")
    return {"num_vars": len(ranges), "names": list(ranges), "bounds": [list(map(float, r)) for r in ranges.values()]}


def _outputs(model: Model, x: np.ndarray) -> np.ndarray:
    y = np.asarray(model(x), dtype=float).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"the model returned {y.shape[0]} outputs for {x.shape[0]} inputs")
    if not np.all(np.isfinite(y)):
        raise UsageError(f"the output is undefined (NaN) at {int(np.sum(~np.isfinite(y)))} of {y.size} sampled "
                         "points; choose another output or statistic")
    return y


def analyse_sobol(ranges: Mapping[str, tuple[float, float]], model: Model, *, samples: int, seed: int,
                  num_resamples: int = 200) -> SensitivityResult:
    """First-order and total Sobol indices from ``samples * (D + 2)`` evaluations (Saltelli design).

    ``samples`` should be a power of two (Sobol' sequence balance).
    """
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    prob = _problem(ranges)
    x = sample.sample(prob, int(samples), calc_second_order=False, seed=seed)
    y = _outputs(model, x)
    si = analyze.analyze(prob, y, calc_second_order=False, num_resamples=num_resamples, seed=seed)
    ind = {n: {k: float(si[k][j]) for k in ("S1", "S1_conf", "ST", "ST_conf")} for j, n in enumerate(prob["names"])}
    return SensitivityResult("sobol", tuple(prob["names"]), ind, dict(ranges), evaluations=len(y),
                             meta={"samples": int(samples)})


def analyse_morris(ranges: Mapping[str, tuple[float, float]], model: Model, *, samples: int, seed: int,
                   num_levels: int = 4) -> SensitivityResult:
    """Morris elementary effects from ``samples`` trajectories (``samples * (D + 1)`` evaluations)."""
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    prob = _problem(ranges)
    x = sample.sample(prob, int(samples), num_levels=num_levels, seed=seed)
    y = _outputs(model, x)
    si = analyze.analyze(prob, x, y, num_levels=num_levels, seed=seed)
    ind = {n: {k: float(si[k][j]) for k in ("mu", "mu_star", "mu_star_conf", "sigma")}
           for j, n in enumerate(prob["names"])}
    return SensitivityResult("morris", tuple(prob["names"]), ind, dict(ranges), evaluations=len(y),
                             meta={"samples": int(samples)})


def analyse_tornado(base: Mapping[str, float], low: Mapping[str, float], high: Mapping[str, float],
                    model: Model) -> SensitivityResult:
    """One-at-a-time swings: each name at ``low`` then ``high``, the others at ``base``."""
    names = list(base)
    b = np.array([base[n] for n in names], dtype=float)
    x = np.tile(b, (2 * len(names) + 1, 1))
    for j, n in enumerate(names):
        x[1 + 2 * j, j] = low[n]
        x[2 + 2 * j, j] = high[n]
    y = _outputs(model, x)
    ind = {n: {"low_value": float(low[n]), "high_value": float(high[n]), "low": float(y[1 + 2 * j]),
               "high": float(y[2 + 2 * j]), "swing": float(abs(y[2 + 2 * j] - y[1 + 2 * j]))}
           for j, n in enumerate(names)}
    return SensitivityResult("tornado", tuple(names), ind, {n: (low[n], high[n]) for n in names},
                             evaluations=len(y), base=float(y[0]))


# ---------------------------------------------------------------- scenarios

def parameter_ranges(sc: Scenario, names: Sequence[str] | None = None,
                     q: tuple[float, float] = (0.01, 0.99)) -> dict[str, tuple[float, float]]:
    """{name: (low, high)}: a uniform prior's bounds, any other prior's ``q`` quantiles (P1, P99)."""
    names = _names(sc, names)
    out = {}
    for n in names:
        p = sc.priors[n]
        out[n] = (float(p.low), float(p.high)) if p.dist == "uniform" else (p.quantile(q[0]), p.quantile(q[1]))
    return out


def _names(sc: Scenario, names: Sequence[str] | None) -> list[str]:
    unc = uncertain_parameters(sc)
    if names is None:
        return unc
    bad = [n for n in names if n not in unc]
    if bad:
        raise UsageError(f"parameters {', '.join(repr(n) for n in bad)}: not an uncertain parameter of scenario "
                         f"'{sc.name}'; uncertain parameters: {', '.join(unc) or '(none)'}")
    return list(names)


def scenario_model(sc: Scenario, names: Sequence[str], *, output: str, stat: str = "mean", trials: int, seed: int,
                   workers: int | None = None, scheduler=None, progress: bool = False) -> Model:
    """The function ``(N, len(names)) -> (N,)``: ``stat`` of ``output`` with ``names`` fixed at each row."""
    reduce = functools.partial(statistic, output=output, stat=stat)

    def model(x: np.ndarray) -> np.ndarray:
        points = [dict(zip(names, map(float, row))) for row in np.atleast_2d(x)]
        return np.array(evaluate(sc, points, trials=trials, seed=seed, reduce=reduce, workers=workers,
                                 scheduler=scheduler, progress=progress), dtype=float)

    return model


def sensitivity(scenario, *, method: str = "sobol", output: str, stat: str = "mean", samples: int = 64,
                trials: int, seed: int, names: Sequence[str] | None = None, workers: int | None = None,
                scheduler=None, progress: bool = False) -> SensitivityResult:
    """Sensitivity of ``stat`` of ``output`` to the scenario's uncertain parameters.

    ``method``: "sobol" (``samples`` base samples, ``samples * (D + 2)``
    simulations), "morris" (``samples`` trajectories, ``samples * (D + 1)``)
    or "tornado" (``2 D + 1``; ``samples`` unused). ``names``: the parameters
    to vary (default: every uncertain one). ``workers``/``scheduler`` as in
    :func:`sibsim.sweep.sweep`.
    """
    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    if method not in METHODS:
        raise UsageError(f"method {method!r} is not known; methods: {', '.join(METHODS)}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 2:
        raise UsageError(f"samples must be a whole number >= 2; got {samples!r}")
    check_output(sc, output, stat, option="output")
    names = _names(sc, names)
    model = scenario_model(sc, names, output=output, stat=stat, trials=trials, seed=seed, workers=workers,
                           scheduler=scheduler, progress=progress)
    if method == "sobol":
        res = analyse_sobol(parameter_ranges(sc, names), model, samples=samples, seed=seed)
    elif method == "morris":
        res = analyse_morris(parameter_ranges(sc, names), model, samples=samples, seed=seed)
    else:
        pri = sc.priors
        res = analyse_tornado({n: pri[n].quantile(0.5) for n in names}, {n: pri[n].quantile(0.1) for n in names},
                              {n: pri[n].quantile(0.9) for n in names}, model)
    meta = {**res.meta, "output": output, "stat": stat, "trials": trials, "seed": seed,
            "scenario": {"name": sc.name, "hash": sc.content_hash}}
    return SensitivityResult(res.method, res.names, res.indices, res.ranges, res.evaluations, res.base, meta)


def reliability_warnings(result: SensitivityResult, *, tolerance: float = 0.05) -> list[str]:
    """Why Sobol indices from too small a sample should not be read, in words (empty when they look sound).

    Sound indices satisfy 0 <= S1 <= ST and sum(S1) <= 1 (Saltelli et al. 2010, Comput. Phys. Commun.
    181:259); sampling error breaks these at small ``samples``, and wide bootstrap intervals say the same.
    """
    if result.method != "sobol":
        return []
    out = []
    idx = result.indices
    worse = [n for n in result.names if idx[n]["S1"] > idx[n]["ST"] + tolerance]
    if worse:
        out.append(f"first-order index above the total index for {', '.join(worse)}, which is impossible")
    total = sum(max(idx[n]["S1"], 0.0) for n in result.names)
    if total > 1 + tolerance:
        out.append(f"first-order indices sum to {total:.2f}, above 1")
    wide = [n for n in result.names if max(idx[n]["S1_conf"], idx[n]["ST_conf"]) > 0.1]
    if wide:
        out.append(f"95% intervals wider than +/-0.10 for {', '.join(wide)}")
    if out:
        n = result.meta.get("samples", "?")
        out.append(f"the sample ({n} base samples) is too small for these indices to mean much: use more samples "
                   "(e.g. 4 or 16 times as many)")
    return out
