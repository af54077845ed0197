"""The likelihood of a contract's observations under one draw of the named parameters (docs/monitoring.md).

Computed from the model's own per-participant probabilities (docs/model.md
s.3): a starter engages with probability ``e``; an engaged starter achieves
outcome ``k`` with ``p1_k``, a non-engaged one with ``p0_k`` (conditional on
the prerequisite, if any); the period of achievement is the start (or the
prerequisite's period) plus a lag from the outcome's lag distribution. For a
starter of class ``c`` (engaged or not) the chance of achieving ``k``
exactly ``d`` periods after starting is

    m_ck(d) = p_ck * lag_k(d)                       (no prerequisite)
    m_ck(d) = p_ck * sum_j m_cj(d - j) lag_k(j)     (prerequisite j)

and the expected number achieved in period ``t`` is
``mu_kt = sum_c sum_s N_cs m_ck(t - s)`` with ``N_cs`` the class's starters
of period ``s`` (observed; a missing period's: its expected value).

The log-likelihood of one draw is a sum of independent terms (a composite
likelihood in the sense of Lindsay 1988; Varin, Reid and Firth 2011):

* engaged_t ~ Binomial(starts_t, e) for every row giving both;
* starts_t ~ Poisson(rate_t * volume) when starts are Poisson (the contract
  maximum's truncation ignored);
* y_kt ~ Poisson(mu_kt) for an outcome without a prerequisite: the number of
  participants achieving ``k`` in period ``t`` is a sum of independent
  Bernoulli variables with small probabilities (Le Cam's theorem bounds the
  error by ``sum p^2``), and counts in different periods are then close to
  independent (exactly so were the number of starters Poisson);
* for an outcome with a prerequisite ``j``, the chain rule: given the
  observed counts of ``j``, y_kt ~ Poisson(q_k * sum_d y_j,t-d lag_k(d)),
  ``q_k`` the chance of ``k`` among those who achieved ``j`` (classes mixed by
  the engaged share); a missing ``y_j`` is replaced by its expectation.

What is ignored: the N_max truncation of Poisson starts; dependence between
different outcomes without a prerequisite relation (they share participants,
not probabilities: for binary outcomes the correlation is zero given the
draw); the delivery model's queue (its starts are taken as observed).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .cohorts import outcome_probabilities, value


def _lag_pmf(o, D: int) -> np.ndarray:
    """(D,) probability that the lag is d = 0 .. D-1 periods."""
    pmf = np.zeros(D)
    for v, p in zip(o.lag.values, o.lag.probs):
        if v < D:
            pmf[v] += p
    return pmf


def _conv(a: np.ndarray, pmf: np.ndarray) -> np.ndarray:
    """(n, D) a convolved with a (D,) pmf, truncated to D."""
    out = np.zeros_like(a)
    for d in np.flatnonzero(pmf):
        out[:, d:] += pmf[d] * a[:, : a.shape[1] - d]
    return out


def expected_starts(sc, params, n: int, U: int) -> np.ndarray:
    """(n, U) expected starts per period under the draw (schedule, or rate times volume)."""
    st = sc.participants.starts
    out = np.zeros((n, U))
    if st is None:
        return out
    if st.kind == "schedule":
        per = np.asarray(st.per_period[:U], float)
        cum = np.cumsum(per)
        if sc.participants.max_participants:
            cum = np.minimum(cum, sc.participants.max_participants)
        out[:, : len(per)] = np.diff(cum, prepend=0.0)
    else:
        r = np.asarray(st.rate_per_period[:U], float)
        vol = np.broadcast_to(np.asarray(value(st.volume, params, 1.0), float), (n,))
        out[:, : len(r)] = r[None, :] * vol[:, None]
    return out


def class_starters(sc, params, obs, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, U) engaged and non-engaged starters per period: observed where given, else expected."""
    U = obs.until
    e = np.broadcast_to(np.clip(np.asarray(value(sc.participants.engagement, params, 1.0), float), 0, 1), (n,))
    s = expected_starts(sc, params, n, U)
    s[:, obs.periods] = obs.starts[None, :]
    eng = s * e[:, None]
    known = ~np.isnan(obs.engaged)
    eng[:, obs.periods[known]] = obs.engaged[known][None, :]
    return eng, s - eng


def achievement_pmfs(sc, params, n: int, D: int) -> dict[str, np.ndarray]:
    """{"1": (n, K, D), "0": (n, K, D)}: chance that an engaged ("1") or non-engaged ("0") starter
    achieves each outcome d periods after starting; and "P1", "P0" (n, K) the chances ever."""
    p0, p1 = outcome_probabilities(sc, params, n)
    names = [o.name for o in sc.outcomes]
    out = {}
    for c, p in (("1", p1), ("0", p0)):
        m = np.zeros((n, len(names), D))
        for k, o in enumerate(sc.outcomes):
            pmf = _lag_pmf(o, D)
            if o.requires is None:
                m[:, k] = p[:, k, None] * pmf[None, :]
            else:
                j = names.index(o.requires)
                m[:, k] = p[:, k, None] * _conv(m[:, j], pmf)
        out[c] = m
        ever = np.array(p, copy=True)
        for k, o in enumerate(sc.outcomes):  # outcomes come after their prerequisite (spec order)
            if o.requires is not None:
                ever[:, k] = p[:, k] * ever[:, names.index(o.requires)]
        out["P" + c] = ever
    return out


def expected_counts(sc, params, obs, n: int) -> np.ndarray:
    """(n, U, K) expected outcomes achieved per period 0 .. until-1 (marginal over the prerequisite)."""
    U = obs.until
    eng, non = class_starters(sc, params, obs, n)
    if sc.participants.payment_on == "engaged":
        non = np.zeros_like(non)
    m = achievement_pmfs(sc, params, n, U)
    K = len(sc.outcomes)
    mu = np.zeros((n, U, K))
    for d in range(U):
        mu[:, d:, :] += eng[:, : U - d, None] * m["1"][:, None, :, d] + non[:, : U - d, None] * m["0"][:, None, :, d]
    return mu


def log_likelihood(sc, params: dict[str, np.ndarray], obs, n: int) -> np.ndarray:
    """(n,) log-likelihood of the observations for each of ``n`` parameter draws (see the module doc)."""
    U = obs.until
    ll = np.zeros(n)
    e = np.broadcast_to(np.clip(np.asarray(value(sc.participants.engagement, params, 1.0), float), 0, 1), (n,))
    both = ~np.isnan(obs.engaged)
    if both.any() and sc.delivery is None:
        k, s = obs.engaged[both], obs.starts[both]
        with np.errstate(divide="ignore", invalid="ignore"):
            ll += (special.xlogy(k[None, :], e[:, None]) + special.xlog1py(s - k, -e[:, None])).sum(axis=1)
        ll += float(np.sum(special.gammaln(s + 1) - special.gammaln(k + 1) - special.gammaln(s - k + 1)))
    st = sc.participants.starts
    if st is not None and st.kind == "poisson":
        lam = expected_starts(sc, params, n, U)[:, obs.periods]
        ll += _poisson(obs.starts[None, :], lam).sum(axis=1)
    mu = expected_counts(sc, params, obs, n)
    names = [o.name for o in sc.outcomes]
    eng, non = class_starters(sc, params, obs, n)
    if sc.participants.payment_on == "engaged":
        non = np.zeros_like(non)
    P = achievement_pmfs(sc, params, n, 1)
    w1 = eng.sum(axis=1) / np.maximum(eng.sum(axis=1) + non.sum(axis=1), 1e-300)
    for k, o in enumerate(sc.outcomes):
        y = obs.counts[:, k]
        seen = ~np.isnan(y)
        if not seen.any():
            continue
        if o.requires is None:
            lam = mu[:, obs.periods[seen], k]
        else:
            j = names.index(o.requires)
            Y = mu[:, :, j].copy()
            yj = obs.counts[:, j]
            kj = ~np.isnan(yj)
            Y[:, obs.periods[kj]] = yj[kj][None, :]
            num = w1 * P["P1"][:, k] + (1 - w1) * P["P0"][:, k]
            den = w1 * P["P1"][:, j] + (1 - w1) * P["P0"][:, j]
            q = np.divide(num, den, out=np.zeros(n), where=den > 0)
            lam = (q[:, None] * _conv(Y, _lag_pmf(o, U)))[:, obs.periods[seen]]
        ll += _poisson(y[seen][None, :], lam).sum(axis=1)
    return ll


def _poisson(y: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """log Poisson pmf; a count where the draw expects none has probability 0 (log -inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = special.xlogy(y, lam) - lam - special.gammaln(y + 1)
    return np.where((lam <= 0) & (y > 0), -np.inf, np.where(lam <= 0, 0.0, out))
