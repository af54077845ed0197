"""Vectorised internal rate of return for many cash-flow series at once.

Why hand-written: ``numpy_financial.irr`` takes one series per call and finds
its roots with ``np.roots`` (one companion-matrix eigenvalue problem each), so
a Python loop over 10^5-10^6 Monte Carlo trials is far too slow. Here all
trials are solved together. NPV is evaluated on a fixed grid of rates, to find
where it changes sign (summed period by period, not by a matrix product, whose
BLAS rounding can depend on a row's neighbours in the batch: each trial's IRR
depends only on its own flows). Then the chosen brackets are
refined with a vectorised safeguarded Newton/bisection. The root-choice rule is
the one ``numpy_financial.irr`` uses (of several roots, the one closest to
zero), and ``tests/test_irr.py`` holds the results against it.

The work is done in u = log(1 + r). For u < 0, NPV is multiplied by
(1 + r)^(T-1): this keeps its sign and roots, and all discount weights stay
in [0, 1], so nothing overflows as r -> -1 or for long series. Flows with one
sign change (the usual invest-then-repay pattern) have exactly one root
(Descartes' rule of signs), so they use a coarse grid; the rest use a fine
one. Limitations of any grid search: two roots closer together than a fine
grid step (0.04 in u) can cancel out and be missed, and so can two roots
below r = -0.99, where (-1, -0.99) is a single bracket. A root with 1 + r
below float resolution next to -1 comes back as -1.0, as from numpy_financial.
"""

from __future__ import annotations

import numpy as np

_BLOCK_ROWS = 20_000  # rows per block: bounds memory for (10^6, T) inputs
_COARSE, _FINE = 0.2, 0.04  # grid steps in u = log(1 + r)
_U_LOW = np.log(0.01)  # lowest regular grid point, r = -0.99
_U_MIN = -700.0  # stands in for r -> -1 (1 + r ~ 1e-304)
_MAX_ITER = 60


def irr(cashflows: np.ndarray, *, tol: float = 1e-10, max_rate: float = 10.0) -> np.ndarray:
    """Periodic IRR of each trial's cash flows.

    ``cashflows``: (trials, periods) float, the flow at the end of period t,
    t = 0..T-1, so NPV(r) = sum_t cf_t / (1 + r)^t. Returns (trials,) float64,
    the rate per period (0.1 = 10 % per period). Where there are several roots,
    the one closest to zero. NaN where the flows never change sign (including
    all zero), contain non-finite values, or have no root in (-1, max_rate].
    ``tol``: tolerance on r (absolute, and relative on 1 + r).
    """
    cf = np.asarray(cashflows, dtype=np.float64)
    if cf.ndim != 2:
        raise ValueError(f"cashflows must be 2-D (trials, periods), got shape {cf.shape}")
    if not max_rate > 0:
        raise ValueError(f"max_rate must be > 0, got {max_rate}")
    n, T = cf.shape
    out = np.full(n, np.nan)
    if n == 0 or T < 2:
        return out
    grids = {step: _grid(step, max_rate, T) for step in (_COARSE, _FINE)}
    for start in range(0, n, _BLOCK_ROWS):
        block = cf[start : start + _BLOCK_ROWS]
        changes, finite = _sign_changes(block), np.isfinite(block).all(1)
        for rows, step in (((changes == 1) & finite, _COARSE), ((changes > 1) & finite, _FINE)):
            idx = np.flatnonzero(rows)
            if idx.size:
                out[start + idx] = _solve(block[idx], *grids[step], tol)
    return out


def annualise(rate_periodic: np.ndarray, periods_per_year: int) -> np.ndarray:
    """Annual rate ``(1 + r)**periods_per_year - 1`` of periodic rates (any shape; NaN stays NaN)."""
    return (1.0 + np.asarray(rate_periodic, dtype=np.float64)) ** periods_per_year - 1.0


def _sign_changes(cf):
    """(n,) number of sign changes along each row of ``cf``, zeros skipped."""
    s = np.sign(cf)
    latest = np.where(s != 0, np.arange(cf.shape[1]), 0)
    np.maximum.accumulate(latest, axis=1, out=latest)
    s = np.take_along_axis(s, latest, axis=1)  # sign of the latest nonzero flow
    return (s[:, 1:] * s[:, :-1] < 0).sum(1)


def _grid(step, max_rate, T):
    """Grid points u (G,), index g0 of u = 0, and (T, G) weights V: sum_t cf_t V_t is NPV on the grid (scaled below r = 0)."""
    u_top = np.log1p(max_rate)
    n_neg, n_pos = int(np.ceil(-_U_LOW / step)), int(np.ceil(u_top / step))
    u = np.concatenate(([_U_MIN], np.linspace(_U_LOW, 0.0, n_neg + 1), np.linspace(0.0, u_top, n_pos + 1)[1:]))
    t = np.arange(T, dtype=np.float64)[:, None]
    return u, n_neg + 1, np.exp(np.where(u < 0, T - 1 - t, -t) * u)


def _npv_grid(cf, V, rows=512):
    """(m, G) ``cf @ V`` summed in period order for each row (blocks of rows stay in cache).

    Not a BLAS product: its rounding can depend on a row's neighbours, and a
    trial's IRR must depend only on its own flows (the chunk size must not
    change any number).
    """
    m, T = cf.shape
    F = np.zeros((m, V.shape[1]))
    for r in range(0, m, rows):
        Fb, cb = F[r : r + rows], cf[r : r + rows]
        for t in range(T):
            Fb += cb[:, t, None] * V[t]
    return F


def _solve(cf, u, g0, V, tol):
    """(m,) IRR of rows that change sign: find the nearest root on each side of r = 0 and keep the nearer."""
    m, T = cf.shape
    rows = np.arange(m)
    F = _npv_grid(cf, V)  # (m, G)
    last = T - 1 - np.argmax(cf[:, ::-1] != 0, axis=1)  # period of the last nonzero flow
    F[:, 0] = cf[rows, last]  # as r -> -1 NPV takes the sign of the last nonzero flow
    zero, neg = F == 0, np.signbit(F)
    ev = zero.copy()  # ev[:, g]: NPV is 0 at u_g, or changes sign in (u_g, u_g+1)
    ev[:, :-1] |= (neg[:, :-1] != neg[:, 1:]) & ~zero[:, :-1] & ~zero[:, 1:]
    gp = g0 + ev[:, g0:].argmax(1)  # first event at or above r = 0
    gn = g0 - 1 - ev[:, g0 - 1 :: -1].argmax(1)  # last event below r = 0
    # above r = 0: NPV = P(1 / (1 + r)) with coefficients cf_t; below: (1 + r)^last NPV = P(1 + r) with the
    # flows reversed from the last nonzero one (trailing zeros would add factors of 1 + r that underflow to 0)
    r_pos = _root(np.ascontiguousarray(cf.T), F, u, gp, ev[rows, gp], zero[rows, gp], -1.0, tol)
    src = np.arange(T) - (T - 1 - last)[:, None]
    cf = np.where(src >= 0, np.take_along_axis(cf, np.maximum(src, 0), axis=1), 0.0)  # shifted to end at T-1
    r_neg = _root(np.ascontiguousarray(cf.T)[::-1], F, u, gn, ev[rows, gn], zero[rows, gn], 1.0, tol)
    return np.where(np.isnan(r_pos) | (np.abs(r_neg) < np.abs(r_pos)), r_neg, r_pos)


def _root(coef, F, u, g, has, exact, sgn, tol):
    """(m,) rate at each row's event g: u_g if NPV is 0 there, else refined in (u_g, u_g+1); NaN if not ``has``."""
    r = np.full(len(g), np.nan)
    hit = has & exact
    r[hit] = np.expm1(u[g[hit]])
    b = np.flatnonzero(has & ~exact)
    if b.size:
        gb = g[b]
        r[b] = np.expm1(_refine(coef[:, b], u[gb], u[gb + 1], F[b, gb], F[b, gb + 1], sgn, tol))
    return r


def _refine(coef, lo, hi, f_lo, f_hi, sgn, tol):
    """(m,) root u of g(u) = P(exp(sgn u)), P(y) = sum_k coef[k] y^k, in brackets (lo, hi) with g(lo) g(hi) < 0.

    Safeguarded Newton (Numerical Recipes' rtsafe) on all rows at once, P by
    Horner's rule (a loop over periods, not trials). A row stops once its step
    is below tol * min(1, 1 + r); at most _MAX_ITER steps.
    """
    s_lo = np.sign(f_lo)
    with np.errstate(divide="ignore", invalid="ignore"):  # regula-falsi start; no usable g at r -> -1
        x = np.where(lo > _U_MIN, lo - f_lo * (hi - lo) / (f_hi - f_lo), hi - 1.0)
    dx = dx_old = hi - lo
    root, idx = np.empty_like(x), np.arange(len(x))
    for _ in range(_MAX_ITER):
        y = np.exp(sgn * x)
        f, d = np.zeros_like(x), np.zeros_like(x)
        for c in coef[::-1]:
            d *= y
            d += f
            f *= y
            f += c
        df = sgn * y * d  # dg/du
        left = np.sign(f) == s_lo
        lo, hi = np.where(left, x, lo), np.where(left, hi, x)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = x - f / df
        bisect = ~((newton >= lo) & (newton <= hi)) | (np.abs(2 * f) > np.abs(dx_old * df))
        x_new = np.where(f == 0, x, np.where(bisect, 0.5 * (lo + hi), newton))
        dx_old, dx = dx, x_new - x
        done = np.abs(dx) <= tol * np.minimum(1.0, np.exp(-x_new))
        x = x_new
        root[idx[done]] = x[done]
        keep = ~done
        if not keep.any():
            return root
        idx, x, lo, hi, s_lo, dx, dx_old = (a[keep] for a in (idx, x, lo, hi, s_lo, dx, dx_old))
        coef = coef[:, keep]
    root[idx] = x  # not converged in _MAX_ITER steps: best estimate, still inside its bracket
    return root
