/*
 * The fast delivery model of sibsim (docs/model.md s.12): one pass over each
 * trial's referrals in arrival order, in C. sibsim/delivery/model.py (SimPy)
 * is the reference it is tested against, trial by trial.
 *
 * Why one pass is exact. The waiting list is first come, first served, and a
 * waiting person can start exactly when fewer engaged people are in service
 * than the period's capacity (the SimPy model's blocker requests make a
 * falling capacity wait for cases to end). So person i's start depends only on
 * the people referred before them: it is the first time tau >= arrival at
 * which P(tau) < c(tau), P counting earlier people still in service (Kiefer
 * and Wolfowitz's recursion for FCFS many-server queues, with abandonment:
 * Baccelli and Hebuterne 1981). They drop out if that time is after their
 * patience runs out. The search frontier F never moves back: a time at which
 * an earlier person could not start is a time at which no later one can.
 *
 * At an integer time t the capacity change applies together with any
 * departures at t, before anyone starts (the SimPy staffing process runs with
 * URGENT priority). Nothing at or after the horizon H happens.
 *
 * Random numbers: counter-based, SplitMix64's output function over
 * key + g*G3 + j*G2 + r*G1 (as the participant pass, sibsim/_kernel.c), g the
 * trial's index in the run, j the referral's number, r the draw: 1 arrival
 * offset within the period (referrals numbered in period order, offsets then
 * sorted within the period), then, by arrival rank, 2 patience, 3 service
 * time (standard exponentials by -log1p(-u)), 4 engagement (u < e). Draw 0
 * (per period) gives the referral counts, drawn by the caller.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define G1 0x9E3779B97F4A7C15ULL
#define G2 0xD1B54A32D192ED03ULL
#define G3 0x8CB92BA72F3D8DD7ULL
#define OFFSET_MAX (1.0 - 1e-9) /* arrivals stay inside their period */
#define NTALLY 10

enum { T_REFERRALS, T_TURNED, T_DROPOUTS, T_WAITING, T_WAIT_STARTED, T_WAIT_DROPPED, T_QUEUE_AREA, T_BUSY_AREA,
       T_EVENTS, T_STARTS };

static inline uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline double unif(uint64_t base, int64_t j, uint64_t r) {
    return (double)(mix(base + (uint64_t)j * G2 + r * G1) >> 11) * 0x1.0p-53;
}

typedef struct {
    double *v;
    Py_ssize_t n, cap;
} Heap;

static int heap_push(Heap *h, double x) {
    if (h->n == h->cap) {
        Py_ssize_t c = h->cap ? 2 * h->cap : 64;
        double *v = realloc(h->v, (size_t)c * sizeof(double));
        if (!v) return -1;
        h->v = v;
        h->cap = c;
    }
    Py_ssize_t i = h->n++;
    while (i > 0) {
        Py_ssize_t p = (i - 1) / 2;
        if (h->v[p] <= x) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
    return 0;
}

static void heap_pop(Heap *h) {
    double x = h->v[--h->n];
    Py_ssize_t i = 0, n = h->n;
    for (;;) {
        Py_ssize_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h->v[c + 1] < h->v[c]) c++;
        if (h->v[c] >= x) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (n) h->v[i] = x;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void sort_small(double *x, Py_ssize_t n) {
    if (n > 24) {
        qsort(x, (size_t)n, sizeof(double), cmp_double);
        return;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        double v = x[i];
        Py_ssize_t j = i;
        while (j > 0 && x[j - 1] > v) { x[j] = x[j - 1]; j--; }
        x[j] = v;
    }
}

typedef struct {
    Py_ssize_t n, H;
    uint64_t key;
    int64_t first_trial, max_participants; /* < 0: no maximum */
    int has_patience, fixed_service;
    const int64_t *counts, *capacity;     /* (n, H) */
    const double *patience, *service, *engagement; /* (n,) */
    int64_t *starts, *engaged;            /* (n, H) */
    double *tally;                        /* (n, NTALLY) */
} Pass;

static int run_trial(const Pass *P, Py_ssize_t i, double **arr, Py_ssize_t *arr_cap, Heap *ends, Heap *drops) {
    const Py_ssize_t H = P->H;
    const int64_t *cnt = P->counts + i * H, *cap = P->capacity + i * H;
    int64_t *starts = P->starts + i * H, *engaged = P->engaged + i * H;
    double *tl = P->tally + i * NTALLY;
    Py_ssize_t total = 0;
    for (Py_ssize_t t = 0; t < H; t++) total += (Py_ssize_t)cnt[t];
    if (total > *arr_cap) {
        double *a = realloc(*arr, (size_t)total * sizeof(double));
        if (!a) return -1;
        *arr = a;
        *arr_cap = total;
    }
    double *at = *arr;
    const uint64_t base = P->key + (uint64_t)(P->first_trial + i) * G3;
    Py_ssize_t k = 0;
    for (Py_ssize_t t = 0; t < H; t++) {
        const Py_ssize_t m = (Py_ssize_t)cnt[t];
        for (Py_ssize_t q = 0; q < m; q++) {
            double u = unif(base, k + q, 1);
            at[k + q] = u < OFFSET_MAX ? u : OFFSET_MAX;
        }
        sort_small(at + k, m);
        for (Py_ssize_t q = 0; q < m; q++) at[k + q] += (double)t;
        k += m;
    }
    const double Hd = (double)H, pm = P->patience ? P->patience[i] : 0.0, svc = P->service[i];
    const double e = P->engagement[i];
    const int64_t cmax = P->max_participants;
    ends->n = 0;
    drops->n = 0;
    double F = 0.0, wait_started = 0, wait_dropped = 0, qarea = 0, barea = 0;
    int64_t committed = 0, turned = 0, dropouts = 0, waiting = 0, events = total, nstart = 0;
    for (k = 0; k < total; k++) {
        const double a = at[k];
        if (cmax >= 0) {
            while (drops->n && drops->v[0] < a) { heap_pop(drops); committed--; }
            if (committed >= cmax) { turned++; continue; }
        }
        committed++;
        const double d = P->has_patience ? a + pm * -log1p(-unif(base, k, 2)) : INFINITY;
        if (F < a) F = a;
        for (;;) {
            if (F > d) { /* blocked from arrival until the patience ran out */
                if (d < Hd) {
                    dropouts++;
                    events++;
                    wait_dropped += d - a;
                    qarea += d - a;
                    if (cmax >= 0 && heap_push(drops, d)) return -1;
                } else {
                    waiting++;
                    qarea += Hd - a;
                }
                break;
            }
            if (F >= Hd) {
                waiting++;
                qarea += Hd - a;
                break;
            }
            while (ends->n && ends->v[0] <= F) heap_pop(ends);
            if ((int64_t)ends->n < cap[(Py_ssize_t)F]) { /* a slot is free: start at F */
                const Py_ssize_t p = (Py_ssize_t)F;
                events++;
                nstart++;
                wait_started += F - a;
                qarea += F - a;
                starts[p]++;
                if (unif(base, k, 4) < e) {
                    const double s = P->fixed_service ? svc : svc * -log1p(-unif(base, k, 3));
                    const double end = F + s;
                    engaged[p]++;
                    barea += (end < Hd ? end : Hd) - F;
                    if (end < Hd) events++;
                    if (heap_push(ends, end)) return -1;
                } else {
                    events++; /* leaves at once */
                }
                break;
            }
            double nxt = floor(F) + 1.0; /* blocked until a case ends or the capacity changes */
            if (ends->n && ends->v[0] < nxt) nxt = ends->v[0];
            F = nxt;
        }
    }
    tl[T_REFERRALS] = (double)total;
    tl[T_TURNED] = (double)turned;
    tl[T_DROPOUTS] = (double)dropouts;
    tl[T_WAITING] = (double)waiting;
    tl[T_WAIT_STARTED] = wait_started;
    tl[T_WAIT_DROPPED] = wait_dropped;
    tl[T_QUEUE_AREA] = qarea;
    tl[T_BUSY_AREA] = barea;
    tl[T_EVENTS] = (double)events;
    tl[T_STARTS] = (double)nstart;
    return 0;
}

static int run_pass(const Pass *P) {
    double *arr = NULL;
    Py_ssize_t arr_cap = 0;
    Heap ends = {NULL, 0, 0}, drops = {NULL, 0, 0};
    int rc = 0;
    for (Py_ssize_t i = 0; i < P->n && !rc; i++) rc = run_trial(P, i, &arr, &arr_cap, &ends, &drops);
    free(arr);
    free(ends.v);
    free(drops.v);
    return rc;
}

/* delivery_pass(n, H, key, first_trial, max_participants, has_patience, fixed_service,
 *               counts, capacity, patience, service, engagement, starts, engaged, tally)
 * -- see sibsim/delivery/fast.py, which checks every buffer's dtype and shape. */
static PyObject *delivery_pass(PyObject *self, PyObject *args) {
    Pass P;
    memset(&P, 0, sizeof P);
    unsigned long long key;
    long long first_trial, maxp;
    Py_buffer b[8];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "nnKLLppy*y*y*y*y*w*w*w*", &P.n, &P.H, &key, &first_trial, &maxp,
                          &P.has_patience, &P.fixed_service, &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7]))
        return NULL;
    P.key = (uint64_t)key;
    P.first_trial = (int64_t)first_trial;
    P.max_participants = (int64_t)maxp;
    P.counts = b[0].buf;
    P.capacity = b[1].buf;
    P.patience = P.has_patience ? b[2].buf : NULL;
    P.service = b[3].buf;
    P.engagement = b[4].buf;
    P.starts = b[5].buf;
    P.engaged = b[6].buf;
    P.tally = b[7].buf;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = run_pass(&P);
    Py_END_ALLOW_THREADS
    for (int q = 0; q < 8; q++) PyBuffer_Release(&b[q]);
    if (rc) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"delivery_pass", delivery_pass, METH_VARARGS, "The fast delivery model (see sibsim/delivery/fast.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_queue", "sibsim's compiled delivery model", -1, methods};

PyMODINIT_FUNC PyInit__queue(void) { return PyModule_Create(&module); }
