"""The per-participant pass, compiled with numba: one walk over every participant.

Why compiled: a participant's payments depend jointly on their outcomes (the
per-participant cap applies in payment order), so the engine needs
per-participant state. numpy would make a dozen passes over ``(trials,
participants)`` arrays; numba makes one, in registers.

Random numbers: participant ``j`` of trial ``g`` (the trial's index in the
run) draws from a counter-based generator, SplitMix64's output function over
``key + g * G3 + j * G2 + r * G1`` (Steele, Lea & Flood 2014; odd constants), where ``key``
is the stream's 64-bit key from ``numpy.random.SeedSequence`` (see
:mod:`sibsim.draw`). Each draw depends only on (seed, trial, participant,
draw), so results are identical for any chunking or worker count, and no
uniform arrays are stored. One 64-bit hash gives two 32-bit uniforms:
outcome ``k``'s achievement and its timing.

For each participant (MODEL.md s.3-4), for each outcome ``k`` in order:
counterfactual achievement ``U_k < p0_k``, treated ``U_k < p_k`` (``p_k = p1_k``
if engaged, else ``p0_k``), both requiring the prerequisite in the same world;
period = start (or the prerequisite's period) + lag, the lag read from the
outcome's lag table with the second uniform. Then, in each world, payments in
order of (payment period, outcome), each cut to what the per-participant cap
leaves, are added to ``(trial, outcome, payment period)`` totals; period ``T``
collects payments due after the horizon (never paid).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

_G1 = uint64(0x9E3779B97F4A7C15)  # draw within a participant
_G2 = uint64(0xD1B54A32D192ED03)  # participant slot
_G3 = uint64(0x8CB92BA72F3D8DD7)  # trial
_M1 = uint64(0xBF58476D1CE4E5B9)
_M2 = uint64(0x94D049BB133111EB)
_LOW32 = uint64(0xFFFFFFFF)
_32 = uint64(32)


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(cache=True, nogil=True)
def participant_pass(key, first_trial, start, eng_given, e, p0, p1, prereq, lag_vals, lag_cdf, lag_n, lag_uniform,
                     prices, cap_pp, pay_lag, pay_engaged_only, T, counts, by_start, amt, cnt, ach, ach_start, eng_starts):
    """Fill the output arrays in place; world 0 is treated, world 1 counterfactual.

    key uint64 stream key; first_trial: run index of row 0
    start (ns, N) int16, ns in {1, n}; a slot with start >= T is empty
    eng_given (n, N) bool, used when ``e`` is empty (delivery model), else
    e (n,) engagement probability
    p0, p1 (n, K) probabilities; prereq (K,) int64 (-1 none)
    lag_vals (K, L) int64, lag_cdf (K, L) cumulative probabilities, lag_n (K,) int64,
    lag_uniform (K,) bool: equally likely lags lag_vals[k, 0] + 0 .. lag_n - 1 (no table scan)
    (probabilities come as int64 thresholds ``round(p * 2**32)``, see :func:`thresholds`,
    and are compared with 32-bit uniform integers)
    prices (n, K) float64; cap_pp (n,) float64 (inf: no cap); pay_lag int; T int
    counts, by_start: bool, whether to fill ``cnt`` and ``ach_start`` (they cost time)
    amt (2, n, K, T + 1) float64 payments by payment period
    cnt (2, n, K, T + 1) int64 their number (for volume caps)
    ach (2, n, K) int64 outcomes achieved before the horizon
    ach_start (2, n, K, T) int64 outcomes achieved (at any time) by start period, for measurement
    eng_starts (n, T) int64 engaged starters by start period
    """
    n = p0.shape[0]
    N = start.shape[1]
    K = p0.shape[1]
    ns = start.shape[0]
    draw_e = e.shape[0] > 0
    a = np.zeros((2, K), np.int64)  # achieved, by world and outcome (0/1, for branch-free sums)
    per = np.zeros(K, np.int64)
    order = np.zeros(K, np.int64)
    for i in range(n):
        row = i if ns > 1 else 0
        cap = cap_pp[i]
        capped = cap < np.inf
        base_ctr = key + uint64(first_trial + i) * _G3
        for j in range(N):
            s = start[row, j]
            if s >= T:
                continue
            ctr = base_ctr + uint64(j) * _G2
            if draw_e:
                eng = np.int64(_mix(ctr) >> _32) < e[i]
            else:
                eng = eng_given[i, j]
            eng_starts[i, s] += eng
            n_tr = 0
            n_cf = 0
            # branch-free on purpose: outcomes are coin flips, so branches on them mispredict
            for k in range(K):
                h = _mix(ctr + uint64(k + 1) * _G1)
                u = np.int64(h >> _32)
                q0 = p0[i, k]
                qt = p1[i, k] if eng else q0
                t = np.int64(u < qt)
                c = np.int64(u < q0)
                pk = prereq[k]
                base = s
                if pk >= 0:
                    t &= a[0, pk]
                    c &= a[1, pk]
                    base = per[pk]
                a[0, k] = t
                a[1, k] = c
                ul = np.int64(h & _LOW32)
                if lag_uniform[k]:
                    lag = lag_vals[k, 0] + ((ul * lag_n[k]) >> 32)
                else:
                    m = 0
                    for mm in range(lag_n[k] - 1):
                        m += ul >= lag_cdf[k, mm]
                    lag = lag_vals[k, m]
                per[k] = base + lag
                in_h = np.int64(per[k] < T)
                ach[0, i, k] += t & in_h
                ach[1, i, k] += c & in_h
                if by_start:
                    ach_start[0, i, k, s] += t
                    ach_start[1, i, k, s] += c
                n_tr += t
                n_cf += c
            if n_tr + n_cf == 0 or (pay_engaged_only and not eng):
                continue
            same = True  # most participants achieve the same in both worlds: pay once, book twice
            for k in range(K):
                if a[0, k] != a[1, k]:
                    same = False
            for w in range(1 if same else 2):
                n_w = n_tr if w == 0 else n_cf
                if n_w == 0:
                    continue
                if capped and n_w > 1:
                    m = 0
                    for k in range(K):  # insertion sort of achieved outcomes by (period, k)
                        if a[w, k]:
                            pos = m
                            while pos > 0 and per[order[pos - 1]] > per[k]:
                                order[pos] = order[pos - 1]
                                pos -= 1
                            order[pos] = k
                            m += 1
                    running = 0.0
                    for q in range(m):
                        k = order[q]
                        pp = min(per[k] + pay_lag, T)
                        pay = min(prices[i, k], max(cap - running, 0.0))
                        running += prices[i, k]
                        amt[w, i, k, pp] += pay
                        if same:
                            amt[1, i, k, pp] += pay
                        if counts:
                            cnt[w, i, k, pp] += 1
                            if same:
                                cnt[1, i, k, pp] += 1
                else:
                    for k in range(K):
                        if a[w, k]:
                            pp = min(per[k] + pay_lag, T)
                            pay = min(prices[i, k], cap)
                            amt[w, i, k, pp] += pay
                            if same:
                                amt[1, i, k, pp] += pay
                            if counts:
                                cnt[w, i, k, pp] += 1
                                if same:
                                    cnt[1, i, k, pp] += 1


def thresholds(p: np.ndarray) -> np.ndarray:
    """Probabilities as int64 thresholds for 32-bit uniform integers: ``u < round(p * 2**32)``."""
    return np.rint(np.clip(p, 0.0, 1.0) * 4294967296.0).astype(np.int64)


def warm() -> None:
    """Load the compiled kernel (from numba's cache) once, before worker processes fork.

    The argument types match those :func:`sibsim.cohorts.simulate_cohort` passes,
    so forked workers inherit the loaded machine code instead of each loading it.
    """
    i8, f8 = np.int64, np.float64
    z = np.zeros
    participant_pass(np.uint64(1), 0, z((1, 1), np.int16), z((1, 1), np.bool_), z(1, i8), z((1, 1), i8),
                     z((1, 1), i8), z(1, i8), z((1, 1), i8), z((1, 1), i8), np.ones(1, i8), np.ones(1, np.bool_),
                     z((1, 1), f8), z(1, f8), 0, False, 1, False, False, z((2, 1, 1, 2), f8),
                     z((2, 1, 1, 1), i8), z((2, 1, 1), i8), z((2, 1, 1, 1), i8), z((1, 1), i8))
