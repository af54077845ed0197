"""Nonparametric regression of net benefit on a few inputs: the engine of regression-based EVPPI and EVSI.

Two smoothers, as in Strong, Oakley and Brennan (2014), "Estimating
multiparameter partial expected value of perfect information from a
probabilistic sensitivity analysis sample: a nonparametric regression
approach", Medical Decision Making 34(3):311-326:

* :func:`pspline`: a generalised additive model for one or two inputs, as
  penalised regression splines (P-splines: a cubic B-spline basis from
  :class:`scipy.interpolate.BSpline` with a second-difference penalty, Eilers
  and Marx 1996, Statistical Science 11:89; two inputs by a tensor product),
  the smoothing parameter chosen by generalised cross-validation (Wood 2017,
  Generalized Additive Models, 2nd ed., s.4.2). This is the role mgcv's
  ``gam`` plays in the paper.
* :func:`gp`: a Gaussian process for three inputs or more (the paper's s.2.3):
  hyperparameters (signal variance, one length scale per input, noise) by
  maximum marginal likelihood with scikit-learn's
  :class:`~sklearn.gaussian_process.GaussianProcessRegressor` on a subsample,
  then the posterior mean at every trial from up to ``train`` trials.

Both return a :class:`Fit`: fitted values at every trial and draws of the
fitted function from its posterior (coefficients ``N(beta, V)`` for the
spline; the GP posterior at the training trials), from which the EVPPI's
standard error follows (the paper's s.2.4).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.interpolate import BSpline

KNOTS = 10  # basis functions per input (cubic): enough for the smooth shapes net benefit takes
LAMBDAS = np.logspace(-6, 6, 25)


@dataclass(frozen=True)
class Fit:
    """fitted: (n,) values at every trial; draws: (m, S) posterior draws at trials ``at`` (m of them).

    lam: the smoothing parameter chosen (spline; NaN for a GP); edf: effective degrees of freedom.
    """

    fitted: np.ndarray
    draws: np.ndarray
    at: np.ndarray
    lam: float = float("nan")
    edf: float = float("nan")


def _basis(x: np.ndarray, k: int = KNOTS) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) cubic B-spline basis on equally spaced knots over x's range, and its (k, k) difference penalty."""
    lo, hi = float(np.min(x)), float(np.max(x))
    if not hi > lo:
        return np.ones((x.size, 1)), np.zeros((1, 1))
    step = (hi - lo) / (k - 3)
    t = lo + step * np.arange(-3, k + 1)
    B = BSpline.design_matrix(np.clip(x, lo, hi), t, 3, extrapolate=True).toarray()
    D = np.diff(np.eye(k), 2, axis=0)
    return B, D.T @ D


def _design(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if X.shape[1] == 1:
        return _basis(X[:, 0])
    (B1, P1), (B2, P2) = _basis(X[:, 0], 7), _basis(X[:, 1], 7)
    B = (B1[:, :, None] * B2[:, None, :]).reshape(len(X), -1)
    P = np.kron(P1, np.eye(B2.shape[1])) + np.kron(np.eye(B1.shape[1]), P2)
    return B, P


def design(X) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) B-spline basis of ``X`` (n, 1 or 2) and its (k, k) penalty: one cubic basis, or a tensor product."""
    X = np.asarray(X, dtype=float)
    X = X.reshape(len(X), -1)
    if X.shape[1] > 2:
        raise ValueError(f"pspline takes one or two inputs; got {X.shape[1]} (use gp)")
    return _design(X)


def pspline(X, y, *, rng: np.random.Generator, draws: int = 200, lams=None) -> Fit:
    """Penalised spline fit of ``y`` (n,) on ``X`` (n, 1 or 2), smoothing by GCV; ``draws`` posterior draws.

    lams: candidate smoothing parameters (default: :data:`LAMBDAS` relative to the penalty's scale).
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    B, P = design(np.asarray(X, dtype=float).reshape(n, -1))
    BtB, Bty = B.T @ B, B.T @ y
    k = len(P)
    # Demmler-Reinsch: with BtB = R'R and R^-T P R^-1 = U diag(s) U', every lambda is a diagonal solve
    R = np.linalg.cholesky(BtB + 1e-10 * np.trace(BtB) / k * np.eye(k)).T
    Rinv = linalg.solve_triangular(R, np.eye(k))
    s, U = np.linalg.eigh(Rinv.T @ P @ Rinv)
    s = np.clip(s, 0, None)
    Q = Rinv @ U
    z = Q.T @ Bty
    if lams is None:
        lams = LAMBDAS * (1.0 / max(np.median(s[s > 1e-12]) if np.any(s > 1e-12) else 1.0, 1e-300))
    lams = np.atleast_1d(np.asarray(lams, dtype=float))
    shrink = 1.0 / (1.0 + lams[:, None] * s[None, :])  # (lambdas, k)
    betas_l = (shrink * z) @ Q.T
    edf = shrink.sum(axis=1)
    rss = y @ y - 2 * betas_l @ Bty + np.einsum("li,ij,lj->l", betas_l, BtB, betas_l)
    gcv = n * np.maximum(rss, 0) / np.maximum(n - edf, 1.0) ** 2
    b = int(np.argmin(gcv))
    beta = betas_l[b]
    sigma2 = max(rss[b], 0) / max(n - edf[b], 1.0)
    L = Q * np.sqrt(sigma2 * shrink[b])  # V = sigma^2 (BtB + lam P)^-1 = L L'
    betas = beta[:, None] + L @ rng.standard_normal((k, draws))
    return Fit(fitted=B @ beta, draws=B @ betas, at=np.arange(n), lam=float(lams[b]), edf=float(edf[b]))


def gp(X, y, *, rng: np.random.Generator, draws: int = 200, hyper: int = 300, train: int = 1000) -> Fit:
    """Gaussian-process fit of ``y`` (n,) on ``X`` (n, d): squared-exponential kernel, one length scale per input.

    Hyperparameters from ``hyper`` random trials (maximum marginal
    likelihood, scikit-learn); the posterior mean at all n trials from
    ``train`` random trials; ``draws`` posterior draws at those training trials.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, d = X.shape
    sd = X.std(axis=0)
    keep = sd > 0
    Z = (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]
    ym, ys = y.mean(), y.std()
    if ys == 0 or Z.shape[1] == 0:
        return Fit(fitted=np.full(n, ym), draws=np.full((n, draws), ym), at=np.arange(n))
    u = (y - ym) / ys
    h = rng.choice(n, size=min(hyper, n), replace=False)
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(Z.shape[1]), (1e-2, 1e3)) + WhiteKernel(0.5, (1e-6, 2.0))
    g = GaussianProcessRegressor(kernel, normalize_y=False, random_state=int(rng.integers(2**31)))
    with warnings.catch_warnings():  # a bound reached (no noise, a flat input) is an answer, not a failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        g.fit(Z[h], u[h])
    signal, noise = g.kernel_.k1, float(g.kernel_.k2.noise_level)
    t = np.sort(rng.choice(n, size=min(train, n), replace=False))
    Kt = signal(Z[t])
    cf = linalg.cho_factor(Kt + noise * np.eye(len(t)))
    alpha = linalg.cho_solve(cf, u[t])
    fitted = np.concatenate([signal(Z[a:a + 2000], Z[t]) @ alpha for a in range(0, n, 2000)])
    # posterior draws at the training trials by pathwise conditioning (Matheron's rule): a prior draw of the
    # function and of the noise, corrected by the data; one Cholesky factor, no eigendecomposition
    m = len(t)
    prior = np.linalg.cholesky(Kt + 1e-8 * np.eye(m)) @ rng.standard_normal((m, draws))
    noise_draw = np.sqrt(noise) * rng.standard_normal((m, draws))
    f = prior + Kt @ linalg.cho_solve(cf, u[t][:, None] - prior - noise_draw)
    return Fit(fitted=ym + ys * fitted, draws=ym + ys * f, at=t)


def smooth(X, y, *, rng: np.random.Generator, draws: int = 200, method: str = "auto") -> Fit:
    """``pspline`` for one or two inputs, ``gp`` for more (``method``: auto, pspline or gp)."""
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    if method == "auto":
        method = "pspline" if X.shape[1] <= 2 else "gp"
    return (pspline if method == "pspline" else gp)(X, y, rng=rng, draws=draws)
