"""Every parameter checked against every place it is used (docs/model.md s.2, README "Limits").

Fields declare their use in their type (:class:`sibsim.spec.base.Use`); this
module finds each use of a parameter name in a scenario and checks the
parameter's prior against it:

* a prior with bounded support (fixed, uniform, triangular, PERT, beta,
  empirical, a normal truncated on both sides) must lie inside the use's
  range entirely;
* a prior with unbounded support (a normal, a normal truncated on one side, a
  lognormal) may put at most :data:`~sibsim.spec.limits.TOLERANCE` (0.1%) of
  its mass outside the range; draws that fall outside are clipped to the
  range (:func:`parameter_bounds`, applied when parameters are sampled).

A ``--set`` value, a sweep point and a solve bracket become fixed priors
(``Scenario.with_params``), so they are checked the same way.
"""

from __future__ import annotations

import math


from .base import Use, iter_uses
from .limits import TOLERANCE


def _dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def uses_of(sc) -> dict[str, list[tuple[str, Use]]]:
    """{parameter name: [(field path, use), ...]} for every parameter name used in ``sc``."""
    out: dict[str, list[tuple[str, Use]]] = {}
    for path, use, v in iter_uses(sc):
        if isinstance(v, str):
            out.setdefault(v, []).append((_dotted(path), use))
    return out


def _ndtr(z: float) -> float:
    """The standard normal CDF (scalar; math.erfc keeps scipy out of loading a scenario, issue 15)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _normal_cdf(p, x: float) -> float:
    if p.sd == 0:
        return float(x >= p.mean_)
    fa = 0.0 if p.low is None else float(_ndtr((p.low - p.mean_) / p.sd))
    fb = 1.0 if p.high is None else float(_ndtr((p.high - p.mean_) / p.sd))
    fx = float(_ndtr((x - p.mean_) / p.sd))
    return min(max((fx - fa) / (fb - fa), 0.0), 1.0) if fb > fa else float(x >= p.mean_)


def _lognormal_cdf(p, x: float) -> float:
    if x <= 0:
        return 0.0
    mu, s = p._musigma()
    if s == 0:  # sd negligible against the mean: a point mass
        return float(x >= p.mean_)
    return float(_ndtr((math.log(x) - mu) / s))


def support(prior) -> tuple[float, float, bool]:
    """(lowest, highest, bounded) values a prior can draw; ``bounded`` False for unbounded tails."""
    d = prior.dist
    if d == "fixed":
        return prior.value, prior.value, True
    if d in ("uniform", "triangular", "pert"):
        return prior.low, prior.high, True
    if d == "beta":
        return 0.0, 1.0, True
    if d == "empirical":
        return min(prior.values), max(prior.values), True
    if d == "normal":
        if prior.sd == 0:
            return prior.mean_, prior.mean_, True
        lo = -math.inf if prior.low is None else prior.low
        hi = math.inf if prior.high is None else prior.high
        return lo, hi, prior.low is not None and prior.high is not None
    if d == "lognormal":
        return 0.0, math.inf, False
    raise ValueError(f"unknown prior kind {d!r}")  # pragma: no cover - every kind is listed above


def mass_outside(prior, use: Use) -> float:
    """Probability that a draw of an unbounded ``prior`` falls outside ``use``'s range."""
    lo, hi = use.bounds
    cdf = (lambda x: _normal_cdf(prior, x)) if prior.dist == "normal" else (lambda x: _lognormal_cdf(prior, x))
    below = cdf(lo) if math.isfinite(lo) else 0.0
    above = 1.0 - cdf(hi) if math.isfinite(hi) else 0.0
    return below + above


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1e4 and math.isfinite(x) and float(x).is_integer() else f"{x:g}"


def prior_problem(prior, use: Use, field: str) -> str | None:
    """Why ``prior`` cannot be used as ``use`` at ``field``, or None if it can."""
    head = f"is used as {use.what} at {field}, which must be {use.allowed()}"
    d = prior.dist
    if d in ("fixed", "empirical") or (d == "normal" and prior.sd == 0):
        values = [prior.value] if d == "fixed" else list(prior.values) if d == "empirical" else [prior.mean_]
        bad = [x for x in values if not use.admits(x)]
        if bad:
            if len(values) == 1:
                return f"fixed at {_fmt(bad[0])}, it {head}"
            return f"{prior} {head}, but takes the value {_fmt(bad[0])}"
        return None
    a, b, bounded = support(prior)
    lo, hi = use.bounds
    if bounded:
        if a < lo or b > hi:
            return f"{prior} {head}, but draws values from {_fmt(a)} to {_fmt(b)}"
        return None
    m = mass_outside(prior, use)
    if m > TOLERANCE:
        return (f"{prior} {head}, but puts {m:.2%} of its draws outside that range (an unbounded prior may put "
                f"at most {TOLERANCE:.1%} there; those draws are clipped to the range)")
    return None


def use_problems(sc) -> list[tuple[str, str]]:
    """Unknown parameter names (at the field) and priors that do not fit a use (at the parameter)."""
    probs: list[tuple[str, str]] = []
    named: dict[str, list[tuple[str, Use]]] = {}
    for path, use, v in iter_uses(sc):
        if isinstance(v, str):
            named.setdefault(v, []).append((_dotted(path), use))
        elif not use.admits(v):  # a number given directly, against a use its model refined
            try:
                use.check(v)
            except ValueError as err:
                probs.append((_dotted(path), str(err)))
    params = sc.parameters
    allowed = ", ".join(sorted(params)) or "(none defined)"
    priors = sc.priors
    for name, uses in named.items():
        if name not in params:
            probs += [(f, f"'{name}' is not a parameter; defined parameters: {allowed}") for f, _ in uses]
            continue
        for f, use in uses:
            msg = prior_problem(priors[name], use, f)
            if msg:
                probs.append((f"parameters.{name}", msg))
    return probs


def parameter_bounds(sc) -> dict[str, tuple[float, float]]:
    """{name: (lo, hi)}: the range every use of the parameter allows (draws are clipped to it)."""
    out: dict[str, tuple[float, float]] = {}
    for name, uses in uses_of(sc).items():
        lo, hi = -math.inf, math.inf
        for _, use in uses:
            a, b = use.bounds
            lo, hi = max(lo, a), min(hi, b)
        out[name] = (lo, hi)
    return out
