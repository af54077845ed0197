"""Expected value of perfect and partial perfect information from per-trial net benefits (docs/voi.md).

Net benefit ``NB`` is ``(trials, options)`` (:mod:`sibsim.decision`). With
today's evidence the commissioner takes the option with the highest mean;
with perfect information it would take the best option in each trial:

    EVPI = mean_i max_j NB_ij - max_j mean_i NB_ij

equal to the mean of the per-trial loss ``max_j NB_ij - NB_ij*`` (``j*`` the
option chosen today), whose standard deviation over sqrt(trials) is its Monte
Carlo standard error (the choice ``j*`` taken as fixed).

EVPPI of a group of parameters ``phi``: the value of learning ``phi``
exactly, ``E_phi[max_j E(NB_j | phi)] - max_j E(NB_j)``. The conditional
expectations are estimated by regressing each option's net benefit,
incremental to the first option, on the trials' draws of ``phi``
(:mod:`.smooth`): Strong, Oakley and Brennan (2014), Med Decis Making
34:311-326. Its standard error comes from posterior draws of the fitted
regression functions (their s.2.4).

A trial of sibsim draws the parameters *and* the outcomes of each
participant given them. Per-trial EVPI therefore also counts the value of
knowing each participant's luck, which no study could give; EVPPI of all the
parameters together is the value of perfect information about the
parameters, and the gap between the two is that aleatory part (small when
cohorts are large).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from . import smooth


@dataclass(frozen=True)
class Estimate:
    """A value-of-information estimate (GBP per decision) and its standard error."""

    value: float
    se: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "se": self.se}


def _nb(nb) -> np.ndarray:
    nb = np.asarray(nb, dtype=float)
    if nb.ndim != 2 or nb.shape[1] < 2:
        raise ValueError(f"net benefit must be (trials, options) with two options or more; got shape {nb.shape}")
    if not np.all(np.isfinite(nb)):
        raise ValueError("net benefit has undefined (NaN or infinite) values")
    return nb


def evpi(nb) -> Estimate:
    """EVPI of per-trial net benefits ``nb`` (trials, options), with its Monte Carlo standard error."""
    nb = _nb(nb)
    chosen = int(np.argmax(nb.mean(axis=0)))
    loss = nb.max(axis=1) - nb[:, chosen]
    return Estimate(evpi_from_fits(nb), float(loss.std(ddof=1) / np.sqrt(len(loss))))


def evpi_from_fits(g: np.ndarray) -> float:
    """mean(max) - max(mean) of fitted conditional net benefits ``g`` (trials, options).

    Rounding below a billionth of the net benefits' scale is returned as 0.
    """
    v = float(g.max(axis=1).mean() - g.mean(axis=0).max())
    return v if v > 1e-9 * max(float(np.abs(g).max()), 1.0) else 0.0


def evppi(nb, X, *, rng: np.random.Generator, draws: int = 200, method: str = "auto") -> Estimate:
    """EVPPI of the inputs ``X`` (trials, d): regression of incremental net benefit on X (Strong et al. 2014).

    method: ``auto`` (P-spline GAM for d <= 2, Gaussian process above), ``pspline`` or ``gp``.
    When one option is best in every trial the EVPI, and so every EVPPI, is
    exactly 0. Otherwise the estimate carries regression error (its ``se``)
    and may exceed the EVPI by about that much when both are small.
    """
    nb = _nb(nb)
    X = np.asarray(X, dtype=float).reshape(len(nb), -1)
    if evpi(nb).value == 0.0:  # one option best in every trial: no information can change the choice
        return Estimate(0.0, 0.0)
    inc = nb[:, 1:] - nb[:, :1]
    with threadpool_limits(limits=1, user_api="blas"):  # matrices of a few hundred rows: threads only contend
        fits = [smooth.smooth(X, inc[:, j], rng=rng, draws=draws, method=method) for j in range(inc.shape[1])]
    g = np.column_stack([np.zeros(len(nb))] + [f.fitted for f in fits])
    G = np.stack([np.zeros_like(fits[0].draws)] + [f.draws for f in fits], axis=1)  # (m, options, draws)
    per_draw = G.max(axis=1).mean(axis=0) - G.mean(axis=0).max(axis=0)
    return Estimate(evpi_from_fits(g), float(np.std(per_draw, ddof=1)))


def population(value: float, *, decisions_per_year: float = 1.0, years: int = 1,
               discount_rate_annual: float = 0.035) -> float:
    """Population value: ``value`` per decision times the discounted number of decisions it affects.

    ``decisions_per_year`` contracts (or cohorts) a year for ``years`` years, the
    first undiscounted (Green Book: 3.5% a year): ``value * sum_t d / (1 + r)^t``.
    """
    if decisions_per_year < 0 or years < 0 or discount_rate_annual < 0:
        raise ValueError(f"decisions_per_year, years and discount_rate_annual must be >= 0; got "
                         f"{decisions_per_year}, {years}, {discount_rate_annual}")
    t = np.arange(int(years))
    return float(value * decisions_per_year * np.sum((1 + discount_rate_annual) ** -t))
