"""Participants and their outcomes in both worlds (docs/model.md s.3-4).

Everything here is per participant and vectorised over trials: arrays are
``(n, N)`` with ``n`` trials and ``N`` participant slots (the most that can
start). Both worlds use the same uniforms (common random numbers): a
participant achieves outcome k in the counterfactual world when ``U < p0`` and
in the treated world when ``U < p1`` (``p1 = p0`` unless engaged), at the same
period, so for a beneficial effect the treated achievers contain the
counterfactual ones participant by participant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import draw
from .kernel import participant_pass, thresholds
from .spec.model import Scenario, Value


def value(x: Value | None, params: dict[str, np.ndarray], default: float = 0.0):
    """A number stays a float; a parameter name becomes its ``(n,)`` array of draws."""
    if x is None:
        return default
    if isinstance(x, str):
        return params[x]
    return float(x)


def col(x):
    """Shape a per-trial value to broadcast against ``(n, N)``."""
    return x[:, None] if isinstance(x, np.ndarray) else x


@dataclass
class Cohort:
    """Who started and engaged, and what they achieved and earned, in both worlds.

    starts, engaged_starts: (n, T) counts by start period
    achieved_tr, achieved_cf: (n, K) outcomes achieved before the horizon
    amount_tr, amount_cf: (n, K, T + 1) rate-card payments after the per-participant
        cap, by payment period (the last column: due after the horizon, not paid)
    count_tr, count_cf: (n, K, T + 1) number of those payments (None without volume caps)
    by_start_tr, by_start_cf: (n, K, T) outcomes achieved (at any time) by start period
        (None unless the scenario measures outcomes)
    """

    starts: np.ndarray
    engaged_starts: np.ndarray
    achieved_tr: np.ndarray
    achieved_cf: np.ndarray
    amount_tr: np.ndarray
    amount_cf: np.ndarray
    count_tr: np.ndarray
    count_cf: np.ndarray
    by_start_tr: np.ndarray
    by_start_cf: np.ndarray


def max_slots(sc: Scenario) -> int:
    p = sc.participants
    if p.starts is None:
        return p.max_participants or 0
    if p.starts.kind == "schedule":
        total = sum(p.starts.per_period[: sc.horizon_periods])
        return min(total, p.max_participants) if p.max_participants else total
    return p.max_participants


def _fixed_starts(sc: Scenario) -> np.ndarray:
    """(N,) start period of each slot for a fixed schedule, truncated at the contract maximum."""
    per = sc.participants.starts.per_period[: sc.horizon_periods]
    sp = np.repeat(np.arange(len(per), dtype=np.int16), per)
    return sp[: max_slots(sc)]


def _poisson_starts(sc: Scenario, params, d: draw.BlockDraws) -> tuple[np.ndarray, np.ndarray]:
    """Poisson starts per period; returns ((n, T) counts after the cap, (n, N) start periods)."""
    T, N = sc.horizon_periods, max_slots(sc)
    st = sc.participants.starts
    rate = np.zeros(T)
    r = np.asarray(st.rate_per_period[:T], dtype=float)
    rate[: len(r)] = r
    vol = col(value(st.volume, params, 1.0))
    lam = np.broadcast_to(np.maximum(rate[None, :] * vol, 0.0), (d.n, T))
    counts = d.poisson(draw.STARTS, np.ascontiguousarray(lam))
    cum = np.minimum(np.cumsum(counts, axis=1), N)
    counts = np.diff(cum, axis=1, prepend=0)
    return counts.astype(float), _slots_from_counts(counts, N, T)


def _lag_tables(sc: Scenario):
    K = len(sc.outcomes)
    L = max((len(o.lag.values) for o in sc.outcomes), default=1)  # no outcomes: impact estimates only (i10)
    vals = np.zeros((K, L), np.int64)
    cdf = np.ones((K, L))
    nv = np.zeros(K, np.int64)
    uniform = np.array([o.lag.dist != "discrete" for o in sc.outcomes])
    for k, o in enumerate(sc.outcomes):
        v = o.lag.values
        vals[k, : len(v)] = v
        cdf[k, : len(v)] = np.cumsum(o.lag.probs)
        cdf[k, len(v) - 1] = 1.0
        nv[k] = len(v)
    return vals, cdf, nv, uniform


def outcome_probabilities(sc: Scenario, params, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, K) counterfactual and treated-if-engaged probabilities, clipped to [0, 1]."""
    K = len(sc.outcomes)
    p0 = np.zeros((n, K))
    p1 = np.zeros((n, K))
    for k, o in enumerate(sc.outcomes):
        b = np.clip(value(o.baseline, params), 0, 1)
        size = value(o.effect.size, params)
        sign = 1.0 if o.direction == "increase" else -1.0
        p0[:, k] = b
        p1[:, k] = np.clip(b + sign * size if o.effect.type == "absolute" else b * (1 + sign * size), 0, 1)
    return p0, p1


def simulate_cohort(sc: Scenario, params: dict[str, np.ndarray], d: draw.BlockDraws,
                    delivery_starts: np.ndarray | None = None,
                    delivery_engaged: np.ndarray | None = None) -> Cohort:
    """Draw starts, engagement and outcomes for ``d.n`` trials and total their rate-card payments.

    ``delivery_starts`` / ``delivery_engaged`` ((n, T) counts from the delivery
    model, docs/model.md s.12) replace the scenario's own starts and engagement draws.
    """
    n, T = d.n, sc.horizon_periods
    p = sc.participants
    if delivery_starts is not None:
        starts = delivery_starts.astype(float)
        N = max(int(delivery_starts.sum(axis=1).max(initial=0)), 1)
        sp = _slots_from_counts(delivery_starts, N, T)
        # within a start period the first ``engaged`` slots engage (participants are exchangeable)
        first = np.cumsum(delivery_starts, axis=1) - delivery_starts
        spc = np.minimum(sp, T - 1).astype(np.int64)
        rank = np.arange(N)[None, :] - np.take_along_axis(first, spc, axis=1)
        engaged = (sp < T) & (rank < np.take_along_axis(delivery_engaged, spc, axis=1))
        e = np.zeros(0)
    else:
        if p.starts.kind == "schedule":
            sp = _fixed_starts(sc)[None, :]
            starts = np.broadcast_to(np.bincount(sp[0], minlength=T)[:T].astype(float), (n, T))
        else:
            starts, sp = _poisson_starts(sc, params, d)
        N = sp.shape[1]
        e = np.broadcast_to(np.clip(value(p.engagement, params, 1.0), 0, 1), (n,)).astype(float)
        engaged = np.zeros((1, 1), np.bool_)

    K = len(sc.outcomes)
    p0, p1 = outcome_probabilities(sc, params, n)
    lag_vals, lag_cdf, lag_n, lag_uniform = _lag_tables(sc)
    rc = sc.rate_card
    prices = np.zeros((n, K))
    for k, o in enumerate(sc.outcomes):
        prices[:, k] = value(rc.prices.get(o.name, 0.0), params)
    counted = [k for k, o in enumerate(sc.outcomes) if o.kind == "count"]  # count outcomes: sibsim.counts (i10)
    if counted:  # the participant pass skips them (never achieved, no price); add_counts fills their slots
        p0[:, counted] = p1[:, counted] = prices[:, counted] = 0.0
    cap = value(rc.cap_per_participant, params, np.inf)
    cap_pp = np.broadcast_to(np.asarray(cap, dtype=float), (n,)).copy()
    prereq = np.array([-1 if o.requires is None else [q.name for q in sc.outcomes].index(o.requires)
                       for o in sc.outcomes], np.int64)
    counts = bool(rc.cap_per_outcome)
    by_start = getattr(sc, "measurement", None) is not None
    amt = np.zeros((2, n, K, T + 1))
    cnt = np.zeros((2, n, K, T + 1) if counts else (2, 1, 1, 1), np.int64)
    ach = np.zeros((2, n, K), np.int64)
    ach_start = np.zeros((2, n, K, T) if by_start else (2, 1, 1, 1), np.int64)
    engaged_starts = np.zeros((n, T), np.int64)
    participant_pass(draw.stream_key(d.seed, draw.PARTICIPANTS), d.first_block * draw.BLOCK,
                     np.ascontiguousarray(sp, dtype=np.int16), np.ascontiguousarray(engaged), thresholds(e),
                     thresholds(p0), thresholds(p1), prereq, lag_vals, thresholds(lag_cdf), lag_n, lag_uniform, prices, cap_pp, rc.payment_lag_periods,
                     p.payment_on == "engaged", T, counts, by_start, amt, cnt, ach, ach_start, engaged_starts)
    if counted:
        from .counts import add_counts

        add_counts(sc, params, d, starts, engaged_starts, amt, cnt, ach, counts)
    f = np.float64
    return Cohort(np.ascontiguousarray(starts), engaged_starts.astype(f), ach[0].astype(f), ach[1].astype(f),
                  amt[0], amt[1], cnt[0].astype(f) if counts else None, cnt[1].astype(f) if counts else None,
                  ach_start[0].astype(f) if by_start else None, ach_start[1].astype(f) if by_start else None)


def _slots_from_counts(counts: np.ndarray, N: int, T: int) -> np.ndarray:
    """(n, N) start period of each slot from (n, T) start counts; ``T`` marks empty slots."""
    n = counts.shape[0]
    flat = np.repeat(np.tile(np.arange(T, dtype=np.int16), n), counts.ravel())
    sp = np.full((n, N), T, dtype=np.int16)
    sp[np.arange(N)[None, :] < counts.sum(axis=1)[:, None]] = flat
    return sp
