"""Switching values: the value of one input at which a summary of an output meets a target.

``g(x) = stat(metric)`` of ``simulate(scenario with NAME = x, trials=T,
seed=S)`` is found equal to a target by Brent's method
(``scipy.optimize.brentq``). Every evaluation uses the same seed (common
random numbers), so ``g`` is a deterministic function of ``x`` -- and, for a
metric that moves one way with ``x``, monotone -- and root finding is not
chasing noise. Other uncertain parameters keep their priors: the answer is
the value at which the target holds on average over everything else (e.g. the
price per job entry at which the investors' median IRR is 5%).

NAME is a parameter or ``price.<outcome>``. Default bounds: a parameter's
prior P1..P99 (a uniform prior: its bounds); a price from 0 to three times
its current value. The answer carries Monte Carlo error from the trials: run
again with another seed or more trials to see its size.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import UsageError
from .spec import Scenario, load
from .sweep import PRICE, apply_point, check_inputs, check_output, statistic


@dataclass(frozen=True)
class Solution:
    """The switching value and how it was found.

    value: the input's value at the root; achieved: the statistic there (equal
    to the target up to ``xtol`` in the input, or the size of a jump when the
    statistic is a step function of the input); at_bounds: the statistic at
    the two bounds.
    """

    vary: str
    target: str
    target_value: float
    value: float
    achieved: float
    bounds: tuple[float, float]
    at_bounds: tuple[float, float]
    evaluations: int
    trials: int
    seed: int
    scenario: dict

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.to_dict().items()}
        text = json.dumps(d, indent=2, default=lambda x: None)
        if path is not None:
            p = Path(path)
            tmp = p.with_name(f".{p.name}.tmp")
            tmp.write_text(text + "\n")
            tmp.replace(p)
        return text


def split_target(target: str) -> tuple[str, str]:
    """``"investor_irr.p50"`` -> ("investor_irr", "p50"); metric names may contain dots."""
    metric, dot, stat = target.rpartition(".")
    if not dot or not metric or not stat:
        raise UsageError(f"--target {target!r}: expected METRIC.STAT=VALUE, e.g. investor_irr.p50=0.05")
    return metric, stat


def parse_target(text: str) -> tuple[str, float]:
    """``"investor_irr.p50=0.05"`` -> ("investor_irr.p50", 0.05)."""
    lhs, eq, rhs = text.partition("=")
    if not eq:
        raise UsageError(f"--target {text!r}: expected METRIC.STAT=VALUE, e.g. investor_irr.p50=0.05")
    try:
        value = float(rhs)
    except ValueError:
        raise UsageError(f"--target {text!r}: the value must be a number; got {rhs!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"--target {text!r}: the value must be a finite number; got {rhs.strip()!r}")
    split_target(lhs.strip())
    return lhs.strip(), value


def default_bounds(sc: Scenario, vary: str) -> tuple[float, float]:
    if vary.startswith(PRICE):
        cur = sc.rate_card.prices.get(vary[len(PRICE):], 0.0)
        if isinstance(cur, str):
            cur = sc.priors[cur].mean
        if not cur > 0:
            raise UsageError(f"--vary {vary}: the current price is 0; give --bounds lo:hi")
        return 0.0, 3.0 * float(cur)
    p = sc.priors[vary]
    if p.dist == "fixed":
        raise UsageError(f"--vary {vary}: the parameter is fixed at {p.value}; give --bounds lo:hi")
    if p.dist == "uniform":
        return float(p.low), float(p.high)
    return p.quantile(0.01), p.quantile(0.99)


def solve(scenario, *, vary: str, target: str, value: float, bounds: tuple[float, float] | None = None,
          trials: int, seed: int, xtol: float | None = None, maxiter: int = 100) -> Solution:
    """The value of ``vary`` at which ``target`` ("METRIC.STAT") equals ``value``.

    ``bounds`` (low, high) must bracket the answer; otherwise UsageError
    says what the statistic is at each bound. ``xtol`` defaults to 1e-6 of
    the bracket's width.
    """
    from scipy.optimize import brentq

    from .engine import _check_int, simulate

    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    trials, seed = _check_int("trials", trials, 1), _check_int("seed", seed, 0)
    check_inputs(sc, [vary], option="--vary")
    metric, stat = split_target(target)
    check_output(sc, metric, stat, option="--target")
    lo, hi = default_bounds(sc, vary) if bounds is None else map(float, bounds)
    if not hi > lo:
        raise UsageError(f"--bounds: high ({hi}) must be greater than low ({lo})")
    cache: dict[float, float] = {}

    def g(x: float) -> float:
        if x not in cache:
            run = simulate(apply_point(sc, {vary: x}), trials=trials, seed=seed, workers=1)
            cache[x] = statistic(run, metric, stat)
        return cache[x]

    f_lo, f_hi = g(lo), g(hi)
    if math.isnan(f_lo) or math.isnan(f_hi):
        raise UsageError(f"{target} is undefined (NaN) at {vary} = {lo if math.isnan(f_lo) else hi:g}; "
                         "choose other --bounds")
    d_lo, d_hi = f_lo - value, f_hi - value
    if d_lo == 0 or d_hi == 0:
        root = lo if d_lo == 0 else hi
    elif d_lo * d_hi > 0:
        raise UsageError(f"the target {target} = {value:g} is not bracketed by {vary} in [{lo:g}, {hi:g}]: "
                         f"{target} is {f_lo:g} at {lo:g} and {f_hi:g} at {hi:g}; give other --bounds lo:hi")
    else:
        tol = xtol if xtol is not None else 1e-6 * (hi - lo)

        def h(x):
            y = g(x)
            if math.isnan(y):
                raise UsageError(f"{target} is undefined (NaN) at {vary} = {x:g}; choose narrower --bounds")
            return y - value

        root = brentq(h, lo, hi, xtol=tol, maxiter=maxiter)
    return Solution(vary=vary, target=target, target_value=float(value), value=float(root), achieved=g(root),
                    bounds=(lo, hi), at_bounds=(f_lo, f_hi), evaluations=len(cache), trials=trials, seed=seed,
                    scenario={"name": sc.name, "hash": sc.content_hash})
