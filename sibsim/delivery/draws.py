"""The delivery model's random numbers, in numpy (docs/model.md s.12).

A counter-based generator, as the participant pass uses (:mod:`sibsim.kernel`):
draw ``r`` of item ``j`` of trial ``g`` (the trial's index in the run) is
SplitMix64's output function (Steele, Lea & Flood 2014) over
``key + g * G3 + j * G2 + r * G1`` (wrapping 64-bit arithmetic), with ``key``
the delivery stream's key from ``numpy.random.SeedSequence``; its top 53 bits
make a uniform on [0, 1). Every number depends only on ``(seed, trial, item,
draw)``, so results do not depend on chunks or workers, and runs that differ
only in capacity, patience or service share their referrals and people
(common random numbers).

Draws: ``r = 0``, item = period: the referral count, by the Poisson inverse
CDF (so a higher volume never gives fewer referrals in a period);
``r = 1``, item = referral number (in period order): the arrival offset within
the period (capped just below 1), offsets sorted within each period;
then by arrival rank ``k``: ``r = 2`` patience and ``r = 3`` service time
(standard exponentials ``-log1p(-u)`` times the mean), ``r = 4`` engagement
(``u < e``).

This module is the reference: the fast model (``_queue.c``) computes the same
numbers in C, and the SimPy model is driven from :func:`trial_inputs`.
"""

from __future__ import annotations

import numpy as np

G1 = np.uint64(0x9E3779B97F4A7C15)
G2 = np.uint64(0xD1B54A32D192ED03)
G3 = np.uint64(0x8CB92BA72F3D8DD7)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
OFFSET_MAX = 1.0 - 1e-9
POISSON_DIRECT_MAX = 600.0  # above this mean exp(-mean) nears underflow: scipy's inverse CDF instead
COUNT, OFFSET, PATIENCE, SERVICE, ENGAGE = range(5)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniforms(key, trial, item, draw: int) -> np.ndarray:
    """Uniforms on [0, 1) for broadcastable integer arrays ``trial`` and ``item``."""
    g = np.asarray(trial, dtype=np.uint64)
    j = np.asarray(item, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(key) + g * G3 + j * G2 + np.uint64(draw) * G1
        h = _mix(np.asarray(z, dtype=np.uint64))
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def poisson_ppf(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson inverse CDF: the least ``k`` with ``P(X <= k) > u``, elementwise, as int64.

    Summed term by term (``p_k = p_(k-1) lam / k``) over the entries still
    searching; means above :data:`POISSON_DIRECT_MAX` use
    ``scipy.stats.poisson.ppf`` (imported only then).
    """
    u = np.asarray(u, dtype=float)
    lam = np.broadcast_to(np.asarray(lam, dtype=float), u.shape)
    out = np.zeros(u.shape, dtype=np.int64)
    flat_u, flat_l, flat_o = u.ravel(), lam.ravel(), out.reshape(-1)
    big = flat_l > POISSON_DIRECT_MAX
    idx = np.flatnonzero((flat_l > 0) & ~big)
    uu, ll = flat_u[idx], flat_l[idx]
    p = np.exp(-ll)
    cdf = p.copy()
    k = 0
    while idx.size:
        # stop where the CDF passed u, or where the terms no longer move it (u within rounding of 1)
        done = (uu < cdf) | ((k > ll) & (p <= cdf * 1e-17))
        flat_o[idx[done]] = k
        keep = ~done
        idx, uu, ll, p, cdf = idx[keep], uu[keep], ll[keep], p[keep], cdf[keep]
        k += 1
        p = p * ll / k
        cdf = cdf + p
    if big.any():
        from scipy.stats import poisson

        flat_o[big] = np.maximum(poisson.ppf(flat_u[big], flat_l[big]), 0).astype(np.int64)
    return out


def referral_counts(key, first_trial: int, means: np.ndarray) -> np.ndarray:
    """Referrals (trials, periods) for trials ``first_trial ..``, Poisson with the given means."""
    n, h = means.shape
    u = uniforms(key, np.arange(first_trial, first_trial + n)[:, None], np.arange(h)[None, :], COUNT)
    return poisson_ppf(u, means)


def trial_inputs(key, trial: int, counts: np.ndarray, *, patience: float | None, service: float, fixed: bool,
                 engagement: float):
    """One trial's referrals in arrival order: (arrivals, patience or None, service times, engages)."""
    total = int(counts.sum())
    k = np.arange(total)
    offset = np.minimum(uniforms(key, trial, k, OFFSET), OFFSET_MAX)
    period = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((offset, period))
    arrivals = offset[order] + period
    pat = None if patience is None else patience * -np.log1p(-uniforms(key, trial, k, PATIENCE))
    svc = np.full(total, float(service)) if fixed else service * -np.log1p(-uniforms(key, trial, k, SERVICE))
    engages = uniforms(key, trial, k, ENGAGE) < engagement
    return arrivals, pat, svc, engages
