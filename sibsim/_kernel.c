/*
 * The per-participant pass of sibsim, in C: one walk over every participant.
 *
 * Why compiled: a participant's payments depend jointly on their outcomes (the
 * per-participant cap applies in payment order), so the engine needs
 * per-participant state; numpy would make a dozen passes over (trials,
 * participants) arrays, this makes one, in registers. It is plain C99 built
 * by setuptools when sibsim is installed, so a run pays no JIT start-up.
 *
 * The Python side (sibsim/kernel.py) checks every array's dtype, shape and
 * contiguity before calling; here arrays are raw C-contiguous buffers.
 *
 * Random numbers: participant j of trial g draws from a counter-based
 * generator, SplitMix64's output function over key + g*G3 + j*G2 + r*G1
 * (Steele, Lea & Flood 2014; odd constants), where key is the stream's 64-bit
 * key from numpy.random.SeedSequence. Each draw depends only on (seed, trial,
 * participant, draw), so results are identical for any chunking or worker
 * count. One 64-bit hash gives two 32-bit uniforms: outcome k's achievement
 * (high half) and its timing (low half); draw 0 is engagement.
 *
 * For each participant (docs/model.md s.4-5), for each outcome k in order:
 * counterfactual achievement U_k < p0_k, treated U_k < p_k (p_k = p1_k if
 * engaged, else p0_k), both requiring the prerequisite in the same world;
 * period = start (or the prerequisite's period) + lag. Then, in each world,
 * payments in order of (payment period, outcome), each cut to what the
 * per-participant cap leaves, are added to (world, trial, outcome, payment
 * period) totals; period T collects payments due after the horizon. The
 * counts (for volume caps) count only payments still above zero after the
 * per-participant cap. sibsim/kernel_ref.py is the same pass in plain numpy;
 * tests/test_kernel_ref.py holds the two together bit for bit.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define G1 0x9E3779B97F4A7C15ULL /* draw within a participant */
#define G2 0xD1B54A32D192ED03ULL /* participant slot */
#define G3 0x8CB92BA72F3D8DD7ULL /* trial */
#define MAXK 256

static inline uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

typedef struct {
    Py_ssize_t n, N, K, L, T, ns;
    uint64_t key;
    int64_t first_trial, pay_lag;
    int draw_e, pay_engaged_only, counts, by_start;
    const int16_t *start;       /* (ns, N) */
    const uint8_t *eng_given;   /* (n, N) bool, when !draw_e */
    const int64_t *e;           /* (n,) thresholds, when draw_e */
    const int64_t *p0, *p1;     /* (n, K) thresholds */
    const int64_t *prereq;      /* (K,) */
    const int64_t *lag_vals;    /* (K, L) */
    const int64_t *lag_cdf;     /* (K, L) thresholds */
    const int64_t *lag_n;       /* (K,) */
    const uint8_t *lag_uniform; /* (K,) bool */
    const double *prices;       /* (n, K) */
    const double *cap_pp;       /* (n,) */
    double *amt;                /* (2, n, K, T+1) */
    int64_t *cnt;               /* (2, n, K, T+1) when counts */
    int64_t *ach;               /* (2, n, K) */
    int64_t *ach_start;         /* (2, n, K, T) when by_start */
    int64_t *eng_starts;        /* (n, T) */
} Pass;

/*
 * Per trial, in two phases. Phase 1 decides every participant's outcomes, one
 * outcome at a time, in loops over participants with no branches on the
 * draws, which the compiler vectorises (the hash and the comparisons run
 * several participants at once). Phase 2 walks the participants once more and
 * books payments for those who achieved anything (in payment order, under the
 * per-participant cap). Both phases do the same arithmetic as a single walk.
 */
static int run_pass(const Pass *P) {
    const Py_ssize_t n = P->n, N = P->N, K = P->K, L = P->L, T = P->T, ns = P->ns;
    const Py_ssize_t T1 = T + 1;
    const uint64_t key = P->key;
    const int64_t first_trial = P->first_trial, pay_lag = P->pay_lag;
    const int draw_e = P->draw_e, pay_engaged_only = P->pay_engaged_only, counts = P->counts;
    const int by_start = P->by_start;
    const int16_t *restrict start_all = P->start;
    const uint8_t *restrict eng_given = P->eng_given;
    const int64_t *restrict prereq = P->prereq, *restrict lag_vals = P->lag_vals;
    const int64_t *restrict lag_cdf = P->lag_cdf, *restrict lag_n = P->lag_n;
    const uint8_t *restrict lag_uniform = P->lag_uniform;
    double *restrict amt = P->amt;
    int64_t *restrict cnt = P->cnt, *restrict ach = P->ach, *restrict ach_start = P->ach_start;
    int64_t *restrict eng_starts = P->eng_starts;

    /* scratch, per trial: engaged, achieved (treated, counterfactual) and period by outcome and slot */
    uint8_t *eng = malloc((size_t)N);
    uint8_t *at = malloc((size_t)(K * N)), *ac = malloc((size_t)(K * N));
    uint8_t *any = malloc((size_t)N), *active = malloc((size_t)N);
    int64_t *per = malloc(sizeof(int64_t) * (size_t)(K * N)), *start64 = malloc(sizeof(int64_t) * (size_t)N);
    Py_ssize_t *idx = malloc(sizeof(Py_ssize_t) * (size_t)(N + 1));
    if (!eng || !at || !ac || !any || !active || !per || !start64 || !idx) {
        free(eng); free(at); free(ac); free(any); free(active); free(per); free(start64); free(idx);
        return -1;
    }
    int64_t order[MAXK];
    for (Py_ssize_t i = 0; i < n; i++) {
        const int16_t *restrict start = start_all + (ns > 1 ? i : 0) * N;
        const double cap = P->cap_pp[i];
        const int capped = cap < INFINITY;
        const int64_t *restrict p0 = P->p0 + i * K, *restrict p1 = P->p1 + i * K;
        const double *restrict prices = P->prices + i * K;
        const uint64_t base = key + (uint64_t)(first_trial + i) * G3;

        /* phase 1: engagement, then each outcome for every slot */
        if (draw_e) {
            const int64_t e_i = P->e[i];
            for (Py_ssize_t j = 0; j < N; j++) eng[j] = (int64_t)(mix(base + (uint64_t)j * G2) >> 32) < e_i;
        } else {
            for (Py_ssize_t j = 0; j < N; j++) eng[j] = eng_given[i * N + j] != 0;
        }
        for (Py_ssize_t j = 0; j < N; j++) {
            any[j] = 0;
            start64[j] = start[j];
            active[j] = start[j] < T;
        }
        for (Py_ssize_t k = 0; k < K; k++) {
            const int64_t q0 = p0[k], q1 = p1[k], pk = prereq[k];
            const uint64_t off = (uint64_t)(k + 1) * G1;
            const int64_t lv0 = lag_vals[k * L], nl = lag_n[k];
            uint8_t *restrict atk = at + k * N, *restrict ack = ac + k * N;
            int64_t *restrict perk = per + k * N;
            /* no prerequisite: "achieved it" is whether the slot is active, and timing counts from the start */
            const uint8_t *restrict atp = pk >= 0 ? at + pk * N : active, *restrict acp = pk >= 0 ? ac + pk * N : active;
            const int64_t *restrict perp = pk >= 0 ? per + pk * N : start64;
            int64_t s_tr = 0, s_cf = 0;
            if (lag_uniform[k]) { /* the common case, without branches: vectorised */
                for (Py_ssize_t j = 0; j < N; j++) {
                    const uint64_t h = mix(base + (uint64_t)j * G2 + off);
                    const int64_t u = (int64_t)(h >> 32), ul = (int64_t)(h & 0xFFFFFFFFULL);
                    const int64_t t = (u < (eng[j] ? q1 : q0)) & atp[j], c = (u < q0) & acp[j];
                    const int64_t pr = perp[j] + lv0 + ((ul * nl) >> 32);
                    perk[j] = pr;
                    atk[j] = (uint8_t)t;
                    ack[j] = (uint8_t)c;
                    any[j] |= (uint8_t)(t | c);
                    s_tr += t & (pr < T);
                    s_cf += c & (pr < T);
                }
            } else {
                for (Py_ssize_t j = 0; j < N; j++) {
                    const uint64_t h = mix(base + (uint64_t)j * G2 + off);
                    const int64_t u = (int64_t)(h >> 32), ul = (int64_t)(h & 0xFFFFFFFFULL);
                    const int64_t t = (u < (eng[j] ? q1 : q0)) & atp[j], c = (u < q0) & acp[j];
                    int64_t m = 0;
                    for (int64_t mm = 0; mm < nl - 1; mm++) m += ul >= lag_cdf[k * L + mm];
                    const int64_t pr = perp[j] + lag_vals[k * L + m];
                    perk[j] = pr;
                    atk[j] = (uint8_t)t;
                    ack[j] = (uint8_t)c;
                    any[j] |= (uint8_t)(t | c);
                    s_tr += t & (pr < T);
                    s_cf += c & (pr < T);
                }
            }
            ach[(0 * n + i) * K + k] += s_tr;
            ach[(1 * n + i) * K + k] += s_cf;
        }

        /* phase 2: starts, and payments of those who achieved something */
        int64_t *restrict eng_row = eng_starts + i * T;
        double *restrict amt_tr = amt + (0 * n + i) * K * T1, *restrict amt_cf = amt + (1 * n + i) * K * T1;
        int64_t *restrict cnt_tr = counts ? cnt + (0 * n + i) * K * T1 : NULL;
        int64_t *restrict cnt_cf = counts ? cnt + (1 * n + i) * K * T1 : NULL;
        for (Py_ssize_t j = 0; j < N; j++) eng_row[start[j] < T ? start[j] : 0] += eng[j] & active[j];
        if (by_start) {
            for (Py_ssize_t j = 0; j < N; j++) {
                if (!active[j]) continue;
                for (Py_ssize_t k = 0; k < K; k++) {
                    ach_start[((0 * n + i) * K + k) * T + start[j]] += at[k * N + j];
                    ach_start[((1 * n + i) * K + k) * T + start[j]] += ac[k * N + j];
                }
            }
        }
        Py_ssize_t n_any = 0; /* the slots with anything to pay, without a branch per slot */
        for (Py_ssize_t j = 0; j < N; j++) {
            idx[n_any] = j;
            n_any += any[j] & (pay_engaged_only ? eng[j] : 1);
        }
        for (Py_ssize_t q0 = 0; q0 < n_any; q0++) {
            const Py_ssize_t j = idx[q0];
            int64_t n_tr = 0, n_cf = 0;
            int same = 1; /* most participants achieve the same in both worlds: pay once, book twice */
            for (Py_ssize_t k = 0; k < K; k++) {
                n_tr += at[k * N + j];
                n_cf += ac[k * N + j];
                same &= at[k * N + j] == ac[k * N + j];
            }
            for (int w = 0; w < (same ? 1 : 2); w++) {
                const uint8_t *restrict aw = w == 0 ? at : ac;
                const int64_t n_w = w == 0 ? n_tr : n_cf;
                if (n_w == 0) continue;
                double *restrict amt_w = w == 0 ? amt_tr : amt_cf;
                int64_t *restrict cnt_w = w == 0 ? cnt_tr : cnt_cf;
                if (capped && n_w > 1) {
                    Py_ssize_t m = 0;
                    for (Py_ssize_t k = 0; k < K; k++) { /* insertion sort of achieved outcomes by (period, k) */
                        if (!aw[k * N + j]) continue;
                        Py_ssize_t pos = m;
                        while (pos > 0 && per[order[pos - 1] * N + j] > per[k * N + j]) {
                            order[pos] = order[pos - 1];
                            pos--;
                        }
                        order[pos] = k;
                        m++;
                    }
                    double running = 0.0;
                    for (Py_ssize_t q = 0; q < m; q++) {
                        const int64_t k = order[q];
                        int64_t pp = per[k * N + j] + pay_lag;
                        if (pp > T) pp = T;
                        double left = cap - running;
                        if (left < 0.0) left = 0.0;
                        const double pay = prices[k] < left ? prices[k] : left;
                        running += prices[k];
                        amt_w[k * T1 + pp] += pay;
                        if (same) amt_cf[k * T1 + pp] += pay;
                        if (counts) { /* a payment the per-participant cap cut to zero is not counted */
                            cnt_w[k * T1 + pp] += pay > 0.0;
                            if (same) cnt_cf[k * T1 + pp] += pay > 0.0;
                        }
                    }
                } else {
                    for (Py_ssize_t k = 0; k < K; k++) {
                        if (!aw[k * N + j]) continue;
                        int64_t pp = per[k * N + j] + pay_lag;
                        if (pp > T) pp = T;
                        const double pay = prices[k] < cap ? prices[k] : cap;
                        amt_w[k * T1 + pp] += pay;
                        if (same) amt_cf[k * T1 + pp] += pay;
                        if (counts) { /* a payment the per-participant cap cut to zero is not counted */
                            cnt_w[k * T1 + pp] += pay > 0.0;
                            if (same) cnt_cf[k * T1 + pp] += pay > 0.0;
                        }
                    }
                }
            }
        }
    }
    free(eng); free(at); free(ac); free(any); free(active); free(per); free(start64); free(idx);
    return 0;
}

/* participant_pass(dims, flags, key, first_trial, pay_lag, buffers...) -- see sibsim/kernel.py */
static PyObject *participant_pass(PyObject *self, PyObject *args) {
    Pass P;
    memset(&P, 0, sizeof P);
    unsigned long long key;
    long long first_trial, pay_lag;
    Py_buffer b[17];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "nnnnnnKLLppppy*y*y*y*y*y*y*y*y*y*y*y*w*w*w*w*w*",
                          &P.n, &P.N, &P.K, &P.L, &P.T, &P.ns, &key, &first_trial, &pay_lag,
                          &P.draw_e, &P.pay_engaged_only, &P.counts, &P.by_start,
                          &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7], &b[8], &b[9], &b[10],
                          &b[11], &b[12], &b[13], &b[14], &b[15], &b[16]))
        return NULL;
    P.first_trial = (int64_t)first_trial;
    P.pay_lag = (int64_t)pay_lag;
    if (P.K > MAXK) {
        PyErr_Format(PyExc_ValueError, "at most %d outcomes; got %zd", MAXK, P.K);
    } else {
        P.key = (uint64_t)key;
        P.start = b[0].buf; P.eng_given = b[1].buf; P.e = b[2].buf; P.p0 = b[3].buf; P.p1 = b[4].buf;
        P.prereq = b[5].buf; P.lag_vals = b[6].buf; P.lag_cdf = b[7].buf; P.lag_n = b[8].buf;
        P.lag_uniform = b[9].buf; P.prices = b[10].buf; P.cap_pp = b[11].buf; P.amt = b[12].buf;
        P.cnt = b[13].buf; P.ach = b[14].buf; P.ach_start = b[15].buf; P.eng_starts = b[16].buf;
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = run_pass(&P);
        Py_END_ALLOW_THREADS
        if (rc) PyErr_NoMemory();
    }
    for (int q = 0; q < 17; q++) PyBuffer_Release(&b[q]);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"participant_pass", participant_pass, METH_VARARGS, "The per-participant pass (see sibsim/kernel.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel", "sibsim's compiled participant pass", -1, methods};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
