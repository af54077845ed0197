"""The per-participant pass, compiled with numba: one walk over every participant.

Why compiled: a participant's payments depend jointly on their outcomes (the
per-participant cap applies in payment order), so the engine needs
per-participant state; numpy would make a dozen passes over ``(trials,
participants)`` arrays, numba makes one. Uniforms are drawn by numpy beforehand
(see :mod:`sibsim.draw`), so the kernel itself is deterministic arithmetic.

For each participant (MODEL.md s.3-4), for each outcome ``k`` in order:
counterfactual achievement ``U_k < p0_k``, treated ``U_k < p_k`` (``p_k = p1_k``
if engaged, else ``p0_k``), both requiring the prerequisite in the same world;
period = start (or the prerequisite's period) + lag, the lag read from the
outcome's lag table with a second uniform. Then, in each world, payments in
order of (payment period, outcome), each cut to what the per-participant cap
leaves, are added to ``(trial, outcome, payment period)`` totals; period ``T``
collects payments due after the horizon (never paid).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def participant_pass(start, engaged, u_ach, u_lag, p0, p1, prereq, lag_vals, lag_cdf, lag_n,
                     prices, cap_pp, pay_lag, pay_engaged_only, T,
                     amt_tr, amt_cf, cnt_tr, cnt_cf, ach_tr, ach_cf):
    """Fill the output arrays in place.

    start (ns, N) int16, ns in {1, n}; a slot with start >= T is empty
    engaged (n, N) bool; u_ach, u_lag (K, n, N) float32 uniforms
    p0, p1 (n, K) float32 probabilities; prereq (K,) int64 (-1 none)
    lag_vals (K, L) int64, lag_cdf (K, L) float32, lag_n (K,) int64
    prices (n, K) float64; cap_pp (n,) float64 (inf: no cap); pay_lag int; T int
    amt_*, cnt_* (n, K, T + 1) float64 outputs by payment period
    ach_* (n, K) float64 outputs: outcomes achieved before the horizon
    """
    n, N = engaged.shape
    K = p0.shape[1]
    ns = start.shape[0]
    a_tr = np.zeros(K, np.bool_)
    a_cf = np.zeros(K, np.bool_)
    per = np.zeros(K, np.int64)
    order = np.zeros(K, np.int64)
    for i in range(n):
        row = i if ns > 1 else 0
        cap = cap_pp[i]
        for j in range(N):
            s = start[row, j]
            if s >= T:
                continue
            eng = engaged[i, j]
            any_ach = False
            for k in range(K):
                u = u_ach[k, i, j]
                q0 = p0[i, k]
                c = u < q0
                t = u < (p1[i, k] if eng else q0)
                pk = prereq[k]
                base = s
                if pk >= 0:
                    c = c and a_cf[pk]
                    t = t and a_tr[pk]
                    base = per[pk]
                a_cf[k] = c
                a_tr[k] = t
                if c or t:
                    any_ach = True
                    lag = lag_vals[k, 0]
                    if lag_n[k] > 1:
                        ul = u_lag[k, i, j]
                        m = 0
                        while m < lag_n[k] - 1 and ul >= lag_cdf[k, m]:
                            m += 1
                        lag = lag_vals[k, m]
                    per[k] = base + lag
                    if per[k] < T:
                        if t:
                            ach_tr[i, k] += 1.0
                        if c:
                            ach_cf[i, k] += 1.0
            if not any_ach or (pay_engaged_only and not eng):
                continue
            for w in range(2):
                a = a_tr if w == 0 else a_cf
                m = 0
                for k in range(K):  # insertion sort of achieved outcomes by (period, k)
                    if a[k]:
                        pos = m
                        while pos > 0 and per[order[pos - 1]] > per[k]:
                            order[pos] = order[pos - 1]
                            pos -= 1
                        order[pos] = k
                        m += 1
                running = 0.0
                for q in range(m):
                    k = order[q]
                    pay = min(prices[i, k], max(cap - running, 0.0))
                    running += prices[i, k]
                    pp = per[k] + pay_lag
                    if pp > T:
                        pp = T
                    if w == 0:
                        amt_tr[i, k, pp] += pay
                        cnt_tr[i, k, pp] += 1.0
                    else:
                        amt_cf[i, k, pp] += pay
                        cnt_cf[i, k, pp] += 1.0
