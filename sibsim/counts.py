"""Count outcomes on the rate card: events per participant, priced per event (docs/model.md s.4.3).

A ``kind: count`` outcome is a number of events per participant within a
window (re-offences, bed nights, sessions attended): Poisson with mean
``mu0`` (``baseline``, per trial) in the counterfactual world; for the
engaged ``mu1 = max(0, mu0 + s d)`` (``absolute``) or ``mu0 (1 + s r)``
(``relative``), ``s = +1`` to ``increase``, ``-1`` to ``reduce``. Each event
falls ``L`` periods after the participant's start, ``L`` drawn independently
from the outcome's lag distribution on ``1 .. W`` (the window); the rate card
pays ``price`` per event, ``payment_lag_periods`` after it.

Exact in distribution, computed by group: the events of ``m`` participants
who start in period ``t`` and fall at lag ``l`` are ``Poisson(m mu p_l)``
(sums and Poisson splits of Poisson counts are Poisson), so the work is
``(trials, T, L)``, whatever the number of participants. Common random
numbers: the treated events of the engaged are their counterfactual events
thinned with probability ``1 - mu1 / mu0`` (``mu1 < mu0``) or plus
``Poisson(m (mu1 - mu0) p_l)`` new ones (``mu1 > mu0``); the other starters'
events are the same in both worlds. So ``treated - counterfactual`` has the
sign of the effect in every trial.

Streams ``(23, hash(name), part, block)`` (:mod:`sibsim.draw` addressing by
block), so results do not depend on chunking. Caps: per outcome volume
(``cap_per_outcome``: events paid) and the contract total apply as for binary
outcomes (:mod:`sibsim.payments`); a per-participant cap is not applied to
events (the validator refuses ``cap_per_participant`` with a priced count
outcome).
"""

from __future__ import annotations

import numpy as np

from . import draw
from .cohorts import value

COUNTS = 23


def _stream(name: str, part: int) -> tuple[int, int, int]:
    from .measure.worlds import key

    return key(COUNTS, name, part)


def _draw(d: draw.BlockDraws, stream, method: str, *args) -> np.ndarray:
    """Draws of ``Generator.<method>(*args)`` shaped like ``args[0]`` ``(n, ...)``, block by block."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    args = [np.broadcast_to(a, shape) for a in args]
    out = np.empty(shape, dtype=np.int64)
    for j, g in enumerate(d.generators(stream)):
        sl = slice(j * draw.BLOCK, (j + 1) * draw.BLOCK)
        out[sl] = getattr(g, method)(*(a[sl] for a in args))
    return out


def means(o, params, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,) counterfactual and treated-if-engaged mean events per participant."""
    mu0 = np.broadcast_to(np.maximum(value(o.baseline, params), 0.0), (n,)).astype(float)
    size = value(o.effect.size, params)
    sign = 1.0 if o.direction == "increase" else -1.0
    mu1 = mu0 + sign * size if o.effect.type == "absolute" else mu0 * (1.0 + sign * size)
    return mu0, np.broadcast_to(np.maximum(mu1, 0.0), (n,)).astype(float)


def events(o, params, d: draw.BlockDraws, starts: np.ndarray, engaged: np.ndarray):
    """Events by (start period, lag) in both worlds: (tr, cf) for the engaged and the others, each (n, T, L)."""
    n = d.n
    mu0, mu1 = means(o, params, n)
    lags = np.asarray(o.lag.values)
    p = np.asarray(o.lag.probs)
    eng = np.asarray(engaged, dtype=float)
    rest = np.maximum(np.asarray(starts, dtype=float) - eng, 0.0)
    lam0 = eng[:, :, None] * mu0[:, None, None] * p[None, None, :]
    cf_e = _draw(d, _stream(o.name, 0), "poisson", lam0)
    other = _draw(d, _stream(o.name, 1), "poisson", rest[:, :, None] * mu0[:, None, None] * p[None, None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(mu0 > 0, np.minimum(mu1 / mu0, 1.0), 1.0)
    removed = _draw(d, _stream(o.name, 2), "binomial", cf_e, np.broadcast_to((1.0 - keep)[:, None, None], cf_e.shape))
    added = _draw(d, _stream(o.name, 3), "poisson", lam0 / np.where(mu0 > 0, mu0, 1.0)[:, None, None]
                  * np.maximum(mu1 - mu0, 0.0)[:, None, None])
    tr_e = cf_e - removed + added
    return (tr_e, cf_e, other), lags


def add_counts(sc, params, d: draw.BlockDraws, starts, engaged, amt, cnt, ach, counted_cnt: bool) -> None:
    """Fill the count outcomes' slots of the participant pass's outputs in place (world 0 treated, 1 counterfactual).

    amt (2, n, K, T + 1) payments by payment period; cnt the same in events (when ``counted_cnt``);
    ach (2, n, K) events before the horizon.
    """
    T = sc.horizon_periods
    rc = sc.rate_card
    lag_pay = rc.payment_lag_periods
    engaged_only = sc.participants.payment_on == "engaged"
    for k, o in enumerate(sc.outcomes):
        if o.kind != "count":
            continue
        (tr_e, cf_e, other), lags = events(o, params, d, starts, engaged)
        price = np.broadcast_to(np.asarray(value(rc.prices.get(o.name, 0.0), params), dtype=float), (d.n,))
        at = np.arange(T)[:, None] + lags[None, :]  # (T, L) period of the event
        pay_at = np.minimum(at + lag_pay, T)  # payments due at or after the horizon collect in column T
        for w, eng_ev in enumerate((tr_e, cf_e)):
            total = eng_ev + other
            ach[w, :, k] = (total * (at < T)[None]).sum(axis=(1, 2))
            paid = eng_ev if engaged_only else total
            by = np.zeros((d.n, T + 1))
            for l in range(len(lags)):
                np.add.at(by.T, pay_at[:, l], paid[:, :, l].T)  # (T,) periods -> payment columns
            amt[w, :, k] = by * price[:, None]
            if counted_cnt:
                cnt[w, :, k] = by.astype(np.int64)
