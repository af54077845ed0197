"""The participant pass in plain numpy: the reference for the compiled pass (sibsim/_kernel.c).

Same arguments and outputs as :func:`sibsim.kernel.participant_pass`, and the
same numbers to the last bit: the tests hold the two together over random
inputs (tests/test_kernel_ref.py), and sibsim falls back to this one where the
compiled extension could not be built (no C compiler) or when
``SIBSIM_KERNEL=numpy``. It is written for clarity, not speed: it makes a
dozen passes over ``(trials, outcomes, participants)`` arrays, a block of
trials at a time.

What it computes (docs/model.md s.4-5). Participant ``j`` of trial ``g`` (the
trial's index in the run) draws from SplitMix64's output function over
``key + g*G3 + j*G2 + r*G1`` (Steele, Lea & Flood 2014): draw ``r = 0`` is
engagement (its high 32 bits against the engagement threshold), draw ``r = k
+ 1`` gives outcome ``k``'s achievement (high 32 bits) and its lag (low 32
bits). For each outcome in order: counterfactual achievement ``u < p0``,
treated ``u < p1`` if engaged (else ``p0``), each also requiring the
prerequisite in the same world; period = start (or the prerequisite's period)
+ lag. Then, in each world, each participant's payments in order of (period,
outcome): a payment is the price cut to what the per-participant cap leaves
(the cap less the prices of the participant's earlier payments, not below
zero), booked at period + payment lag (period ``T``: after the horizon). The
count of payments (for volume caps) counts only payments still above zero
after that cut. Totals are summed in participant order, as the C pass does,
so the floating-point sums agree exactly.
"""

from __future__ import annotations

import numpy as np

G1 = np.uint64(0x9E3779B97F4A7C15)
G2 = np.uint64(0xD1B54A32D192ED03)
G3 = np.uint64(0x8CB92BA72F3D8DD7)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
_ROWS = 64  # trials per block: bounds the (rows, K, N) scratch arrays


def mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on uint64 (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def participant_pass(key, first_trial, start, eng_given, e, p0, p1, prereq, lag_vals, lag_cdf, lag_n, lag_uniform,
                     prices, cap_pp, pay_lag, pay_engaged_only, T, counts, by_start, amt, cnt, ach, ach_start,
                     eng_starts) -> None:
    """Add the pass's totals into the output arrays (see :func:`sibsim.kernel.participant_pass`).

    The arrays are taken as checked by :mod:`sibsim.kernel`; totals are added
    in place, so bit-for-bit agreement with the C pass holds for outputs that
    start at zero (as the engine passes them).
    """
    n, K = p0.shape
    ns, N = start.shape
    prereq = np.asarray(prereq, np.int64)
    if np.any(prereq >= np.arange(K)):
        raise ValueError("participant_pass: an outcome's prerequisite must come before it")
    draw_e = np.asarray(e).shape[0] > 0
    with np.errstate(over="ignore"):
        for r0 in range(0, n, _ROWS):
            r1 = min(r0 + _ROWS, n)
            _block(r0, r1, np.uint64(key), int(first_trial), start, eng_given, e, draw_e, p0, p1, prereq, lag_vals,
                   lag_cdf, lag_n, lag_uniform, prices, cap_pp, int(pay_lag), bool(pay_engaged_only), int(T),
                   bool(counts), bool(by_start), amt, cnt, ach, ach_start, eng_starts)


def _block(r0, r1, key, first_trial, start, eng_given, e, draw_e, p0, p1, prereq, lag_vals, lag_cdf, lag_n,
           lag_uniform, prices, cap_pp, pay_lag, pay_engaged_only, T, counts, by_start, amt, cnt, ach, ach_start,
           eng_starts):
    rows = np.arange(r0, r1)
    m = len(rows)
    K = p0.shape[1]
    N = start.shape[1]
    st = (start[rows] if start.shape[0] > 1 else np.broadcast_to(start, (m, N))).astype(np.int64)  # (m, N)
    active = st < T
    base = key + (np.uint64(first_trial) + rows.astype(np.uint64)) * G3  # (m,)
    slot = base[:, None] + np.arange(N, dtype=np.uint64)[None, :] * G2  # (m, N)

    # engagement
    if draw_e:
        eng = (mix(slot) >> np.uint64(32)).astype(np.int64) < np.asarray(e, np.int64)[rows, None]
    else:
        eng = np.asarray(eng_given, bool)[rows]

    # outcomes, in order: achievement in each world and period
    at = np.zeros((m, K, N), bool)
    ac = np.zeros((m, K, N), bool)
    per = np.zeros((m, K, N), np.int64)
    for k in range(K):
        h = mix(slot + np.uint64(k + 1) * G1)
        u = (h >> np.uint64(32)).astype(np.int64)
        ul = (h & _LOW32).astype(np.int64)
        q0, q1 = p0[rows, k][:, None], p1[rows, k][:, None]
        pk = prereq[k]
        atp, acp, perp = (at[:, pk], ac[:, pk], per[:, pk]) if pk >= 0 else (active, active, st)
        at[:, k] = (u < np.where(eng, q1, q0)) & atp
        ac[:, k] = (u < q0) & acp
        nl = int(lag_n[k])
        if lag_uniform[k]:
            lag = lag_vals[k, 0] + ((ul * nl) >> 32)
        else:
            which = (ul[..., None] >= lag_cdf[k, : nl - 1]).sum(-1)
            lag = lag_vals[k][which]
        per[:, k] = perp + lag

    # outcomes achieved before the horizon, engaged starters, outcomes by start period
    before = per < T
    ach[0, r0:r1] += (at & before).sum(-1)
    ach[1, r0:r1] += (ac & before).sum(-1)
    eng_starts[r0:r1] += _bincount2(np.where(active, st, 0), eng & active, T)
    if by_start:
        for w, aw in enumerate((at, ac)):
            for k in range(K):
                ach_start[w, r0:r1, k] += _bincount2(np.where(active, st, 0), aw[:, k] & active, T)

    # payments, each world: in (period, outcome) order per participant, under the per-participant cap
    paid = eng[:, None, :] if pay_engaged_only else True
    cap = cap_pp[rows][:, None, None]
    pp = np.minimum(per + pay_lag, T)
    for w, aw in enumerate((at, ac)):
        aw = aw & paid
        key_ = np.where(aw, per * K + np.arange(K)[None, :, None], np.iinfo(np.int64).max)
        order = np.argsort(key_, axis=1, kind="stable")  # (m, K, N): outcome index at each payment position
        a_s = np.take_along_axis(aw, order, axis=1)
        price_s = np.where(a_s, np.take_along_axis(np.broadcast_to(prices[rows][:, :, None], (m, K, N)), order, 1), 0.0)
        # what the cap has used before each payment: the prices of the earlier ones, added in order from 0.0
        left = np.maximum(cap - _exclusive_cumsum(price_s), 0.0)
        pay_s = np.where(price_s < left, price_s, left)
        pay = np.zeros_like(pay_s)
        np.put_along_axis(pay, order, pay_s, axis=1)  # back to outcome order
        # flattened (trial, outcome, participant) in C order: each (trial, outcome, period) cell is summed in
        # participant order, as the C pass adds them
        cell = (np.arange(m)[:, None, None] * K + np.arange(K)[None, :, None]) * (T + 1) + pp
        ok = aw.ravel()
        idx, val = cell.ravel()[ok], pay.ravel()[ok]
        amt[w, r0:r1] += np.bincount(idx, weights=val, minlength=m * K * (T + 1)).reshape(m, K, T + 1)
        if counts:
            nz = val > 0.0
            cnt[w, r0:r1] += np.bincount(idx[nz], minlength=m * K * (T + 1)).reshape(m, K, T + 1)


def _exclusive_cumsum(x: np.ndarray) -> np.ndarray:
    """Running sum along axis 1 of the entries before each one, added left to right from 0.0."""
    out = np.zeros_like(x)
    acc = np.zeros_like(x[:, 0])
    for q in range(1, x.shape[1]):
        acc = acc + x[:, q - 1]
        out[:, q] = acc
    return out


def _bincount2(idx: np.ndarray, weights: np.ndarray, T: int) -> np.ndarray:
    """(m, T) counts: row r counts ``weights[r, j]`` into column ``idx[r, j]``."""
    m = idx.shape[0]
    flat = (np.arange(m)[:, None] * T + idx).ravel()
    return np.bincount(flat, weights=weights.ravel().astype(np.int64), minlength=m * T).reshape(m, T).astype(np.int64)
