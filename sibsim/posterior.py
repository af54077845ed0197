"""The posterior over a scenario's named parameters given a contract's observations (docs/monitoring.md).

Every prior in the parameter table is the inverse CDF of a uniform, and
correlated ones pass through a Gaussian copula, so the whole prior is the
image of a standard normal vector ``z`` (one coordinate per uncertain
parameter): ``theta = ppf(Phi(L z))``. The posterior is computed in ``z``:

1. **Importance sampling** (the prior as proposal): ``M`` prior draws, each
   weighted by its likelihood (:mod:`sibsim.likelihood`). The weights are
   Pareto-smoothed (PSIS, Vehtari, Simpson, Gelman, Yao and Gabry 2024,
   JMLR 25(72)) with ArviZ; the shape estimate ``k-hat`` and the effective
   sample size ``ESS = 1 / sum w^2`` say whether the estimate can be trusted.
2. When ``k-hat > 0.7`` or ``ESS < min_ess`` (the data are too informative
   for the prior to serve as proposal), **sequential Monte Carlo with
   likelihood tempering** (Neal 2001; Chopin 2002; Del Moral, Doucet and Jasra
   2006): targets ``prior * likelihood^phi`` for ``0 = phi_0 < ... < phi_S = 1``,
   each step chosen so that the incremental weights keep an ESS of half the
   particles, then systematic resampling and a few random-walk Metropolis
   moves in ``z`` (proposal scaled to the particles' covariance,
   ``2.38 / sqrt(D)``; Roberts, Gelman and Gilks 1997) that leave the
   tempered target invariant.

The result is a weighted sample of parameter vectors; :func:`resample`
turns it into equally weighted draws for the re-forecast.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from . import draw
from .dists import correlation_matrix
from .likelihood import log_likelihood

POSTERIOR_STREAM, RESAMPLE_STREAM, MOVE_STREAM = 90, 91, 92
KHAT_MAX = 0.7


@dataclass(frozen=True)
class PriorSpace:
    """The map from standard normal ``z`` (n, D) to the named parameters (uncertain ones in ``names``)."""

    scenario: object
    names: tuple[str, ...]
    chol: np.ndarray | None

    @classmethod
    def of(cls, sc) -> "PriorSpace":
        from .dists import Fixed

        pri = sc.priors
        names = tuple(sorted(k for k, p in pri.items() if not isinstance(p, Fixed)))
        chol = None
        corr = [(c.a, c.b, c.rho) for c in sc.correlations if c.a in names and c.b in names]
        if corr:
            chol = np.linalg.cholesky(correlation_matrix(list(names), corr))
        return cls(sc, names, chol)

    def params(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """Every parameter as (n,) arrays (fixed ones repeated) for the draws ``z``."""
        n = z.shape[0]
        x = z @ self.chol.T if self.chol is not None else z
        u = np.clip(special.ndtr(x), 1e-16, 1 - 1e-16)
        pri = self.scenario.priors
        out = {k: np.full(n, float(p.ppf(np.full(1, 0.5))[0])) for k, p in pri.items() if k not in self.names}
        out.update({k: np.asarray(pri[k].ppf(u[:, j]), float) for j, k in enumerate(self.names)})
        return out


@dataclass(frozen=True)
class Posterior:
    """A weighted sample from the posterior and how it was obtained.

    z: (M, D) draws in the prior's normal space; weights: (M,) summing to 1
    params: parameter name -> (M,) values; prior: the same for the prior draws
    diagnostics: method ("importance" or "smc"), khat, ess, ess_prior_is (the plain IS ESS), stages, ...
    """

    space: PriorSpace
    z: np.ndarray
    weights: np.ndarray
    params: dict
    prior: dict
    log_lik: np.ndarray
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> dict[str, dict]:
        """{parameter: {"prior": stats, "posterior": stats}} for every uncertain parameter;
        stats = mean, std, p5, p50, p95 (posterior also ess, khat)."""
        out = {}
        for k in self.space.names:
            post = weighted_stats(self.params[k], self.weights)
            post.update(ess=self.diagnostics["ess"], khat=self.diagnostics["khat"])
            out[k] = {"prior": weighted_stats(self.prior[k], None), "posterior": post}
        return out

    def to_frame(self):
        """pandas DataFrame, one row per parameter: prior and posterior mean, 90% interval, ESS, k-hat."""
        import pandas as pd

        rows = []
        for k, s in self.summary().items():
            a, b = s["prior"], s["posterior"]
            rows.append({"parameter": k, "prior mean": a["mean"], "prior P5": a["p5"], "prior P95": a["p95"],
                         "posterior mean": b["mean"], "posterior P5": b["p5"], "posterior P95": b["p95"],
                         "prior sd": a["std"], "posterior sd": b["std"], "ESS": b["ess"], "k-hat": b["khat"]})
        return pd.DataFrame(rows).set_index("parameter")


def weighted_stats(x: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    """Mean, sd and P5/P50/P95 of a sample with weights (None: equal)."""
    x = np.asarray(x, float)
    w = np.full(x.size, 1.0 / x.size) if w is None else np.asarray(w, float) / np.sum(w)
    m = float(np.sum(w * x))
    sd = float(np.sqrt(max(np.sum(w * (x - m) ** 2), 0.0)))
    o = np.argsort(x, kind="stable")
    cw = np.cumsum(w[o]) - 0.5 * w[o]
    q = np.interp([0.05, 0.5, 0.95], cw, x[o])
    return {"mean": m, "std": sd, "p5": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}


def psis(log_w: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed normalised log weights and k-hat (ArviZ's implementation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from arviz import psislw
        except ImportError:  # ArviZ >= 1.0 moved it to arviz_stats
            from arviz_stats import psislw
        lw = np.where(np.isfinite(log_w), log_w, -1e300)
        out, k = psislw(lw.astype(float))
    return np.asarray(out, float), float(np.asarray(k))


def ess(w: np.ndarray) -> float:
    """Kish's effective sample size of normalised weights."""
    return float(1.0 / np.sum(np.square(w)))


def _normalise(lw: np.ndarray) -> np.ndarray:
    lw = np.where(np.isfinite(lw), lw, -np.inf)
    top = np.max(lw)
    if not np.isfinite(top):
        return np.full(lw.size, 1.0 / lw.size)
    w = np.exp(lw - top)
    return w / w.sum()


def systematic(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` draws by systematic resampling (Kitagawa 1996)."""
    c = np.cumsum(w)
    c[-1] = 1.0
    return np.searchsorted(c, (rng.random() + np.arange(n)) / n).clip(0, w.size - 1)


def posterior(sc, obs, *, draws: int = 4000, seed: int = 1, min_ess: float | None = None,
              method: str = "auto", moves: int = 4) -> Posterior:
    """The posterior of ``sc``'s named parameters given ``obs`` (see the module doc).

    draws: prior draws (particles); min_ess: below it importance sampling gives way to SMC
    (default ``max(200, draws / 50)``); method: "auto", "importance" or "smc".
    """
    if method not in ("auto", "importance", "smc"):
        from .errors import UsageError

        raise UsageError(f"method must be auto, importance or smc; got {method!r}")
    space = PriorSpace.of(sc)
    D = len(space.names)
    rng = draw.rng_for(seed, (POSTERIOR_STREAM,), 0)
    z = rng.standard_normal((draws, D))
    pri = space.params(z)

    def loglik(zz):
        return log_likelihood(sc, space.params(zz), obs, zz.shape[0])

    ll = loglik(z)
    lw_s, khat = psis(ll)
    w = np.exp(lw_s - np.max(lw_s))
    w /= w.sum()
    e = ess(w)
    min_ess = max(200.0, draws / 50) if min_ess is None else float(min_ess)
    diag = {"method": "importance", "draws": draws, "khat": khat, "ess": e, "importance_khat": khat,
            "importance_ess": e, "min_ess": min_ess, "khat_max": KHAT_MAX, "stages": 0}
    if D and (method == "smc" or (method == "auto" and (khat > KHAT_MAX or e < min_ess))):
        z, ll, w, smc = _smc(loglik, z, ll, draws=draws, seed=seed, moves=moves)
        diag.update(smc)
    params = space.params(z)
    return Posterior(space, z, w, params, pri, ll, diag)


def _smc(loglik, z, ll, *, draws: int, seed: int, moves: int):
    """Tempered SMC from the prior particles ``z`` (log-likelihoods ``ll``); returns the final particles,
    their log-likelihoods, weights and diagnostics."""
    rng = draw.rng_for(seed, (MOVE_STREAM,), 0)
    n, D = z.shape
    phi, stages, acc = 0.0, 0, []
    logw = np.zeros(n)
    while phi < 1.0:
        def ess_at(p):
            return ess(_normalise(logw + (p - phi) * ll))
        if ess_at(1.0) >= n / 2:
            new = 1.0
        else:
            lo, hi = phi, 1.0
            for _ in range(50):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if ess_at(mid) >= n / 2 else (lo, mid)
            new = max(lo, phi + 1e-6)
        logw = logw + (new - phi) * ll
        phi = new
        stages += 1
        w = _normalise(logw)
        idx = systematic(w, n, rng)
        z, ll = z[idx], ll[idx]
        logw = np.zeros(n)
        cov = np.cov(z, rowvar=False).reshape(D, D) + 1e-9 * np.eye(D)
        chol = np.linalg.cholesky(cov)
        scale = 2.38 / np.sqrt(D)
        for _ in range(moves):
            prop = z + scale * rng.standard_normal((n, D)) @ chol.T
            llp = loglik(prop)
            log_a = phi * (llp - ll) - 0.5 * (np.sum(prop ** 2, axis=1) - np.sum(z ** 2, axis=1))
            ok = np.log(rng.random(n)) < np.where(np.isnan(log_a), -np.inf, log_a)
            z = np.where(ok[:, None], prop, z)
            ll = np.where(ok, llp, ll)
            acc.append(float(ok.mean()))
        if stages > 200:
            break
    w = np.full(n, 1.0 / n)
    distinct = float(np.unique(z, axis=0).shape[0])  # copies left by resampling do not count
    return z, ll, w, {"method": "smc", "stages": stages, "ess": distinct, "khat": float("nan"),
                      "acceptance": float(np.mean(acc)) if acc else float("nan"), "moves_per_stage": moves,
                      "final_phi": phi}


def resample(post: Posterior, n: int, *, seed: int) -> dict[str, np.ndarray]:
    """``n`` equally weighted parameter draws from the posterior (systematic resampling, then shuffled
    so neighbouring trials are not copies)."""
    rng = draw.rng_for(seed, (RESAMPLE_STREAM,), 0)
    idx = systematic(post.weights, n, rng)
    rng.shuffle(idx)
    return {k: v[idx] for k, v in post.params.items()}
