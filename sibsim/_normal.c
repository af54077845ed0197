/* sibsim._normal: the standard normal quantile function (inverse CDF) over an array of doubles.

   Why it is here: the benchmark path turns uniforms into normal, lognormal and
   beta draws through the normal quantile, and importing scipy.special for it
   costs more than importing numpy (issue 15, start-up). This is the same
   method as scipy.special.ndtri, Moshier's Cephes ndtri (Cephes Math Library,
   release 2.1, 1989; S. L. Moshier, "Methods and Programs for Mathematical
   Functions", 1989): a rational approximation in w = y - 1/2 for the centre
   (|w| <= 3/8), and for the tails z = sqrt(-2 log y) with
   x = z - log(z)/z - (1/z) P(1/z)/Q(1/z), one P/Q for 2 <= z < 8 and one for
   z >= 8. The coefficients are Cephes's published ones and the operations are
   done in the same order, so every value equals scipy's bit for bit
   (tests/test_normal.py checks millions of values against scipy, the
   reference; a changed coefficient or operation fails it).

   ISO C99 without -ffast-math or FMA contraction (setup.py), so the arithmetic
   is plain IEEE double. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

/* centre: 0 <= |y - 1/2| <= 3/8 */
static const double CENTRE_P[5] = {
    -5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
    1.39312609387279679503E1, -1.23916583867381258016E0,
};
static const double CENTRE_Q[8] = { /* leading 1 implied */
    1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
    -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
    1.59056225126211695515E1, -1.18331621121330003142E0,
};
/* near tail: 2 <= z < 8, i.e. exp(-32) < y <= exp(-2) */
static const double NEAR_P[9] = {
    4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
    4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
    -1.40256079171354495875E-1, -3.50424626827848203418E-2, -8.57456785154685413611E-4,
};
static const double NEAR_Q[8] = { /* leading 1 implied */
    1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
    1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
    -3.80806407691578277194E-2, -9.33259480895457427372E-4,
};
/* far tail: z >= 8, y <= exp(-32) */
static const double FAR_P[9] = {
    3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
    1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
    3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9,
};
static const double FAR_Q[8] = { /* leading 1 implied */
    6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
    2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
    2.89247864745380683936E-6, 6.79019408009981274425E-9,
};

static const double EXP_MINUS_2 = 0.13533528323661269189;
static const double ROOT_TWO_PI = 2.50662827463100050242E0;

/* c[0] x^n + c[1] x^(n-1) + ... + c[n], by Horner's rule */
static double horner(const double *c, int n, double x)
{
    double r = c[0];
    for (int i = 1; i <= n; i++) r = r * x + c[i];
    return r;
}

/* x^n + c[0] x^(n-1) + ... + c[n-1]: a polynomial with leading coefficient 1 */
static double horner_monic(const double *c, int n, double x)
{
    double r = x + c[0];
    for (int i = 1; i < n; i++) r = r * x + c[i];
    return r;
}

static double quantile(double p)
{
    if (isnan(p) || p < 0.0 || p > 1.0) return NAN;
    if (p == 0.0) return -INFINITY;
    if (p == 1.0) return INFINITY;
    int lower = 1; /* p in the lower half: the answer is negative */
    double y = p;
    if (y > 1.0 - EXP_MINUS_2) {
        y = 1.0 - y;
        lower = 0;
    }
    if (y > EXP_MINUS_2) {
        double w = y - 0.5, w2 = w * w;
        double x = w + w * (w2 * horner(CENTRE_P, 4, w2) / horner_monic(CENTRE_Q, 8, w2));
        return x * ROOT_TWO_PI;
    }
    double z = sqrt(-2.0 * log(y));
    double lead = z - log(z) / z;
    double t = 1.0 / z, corr;
    if (z < 8.0)
        corr = t * horner(NEAR_P, 8, t) / horner_monic(NEAR_Q, 8, t);
    else
        corr = t * horner(FAR_P, 8, t) / horner_monic(FAR_Q, 8, t);
    double x = lead - corr;
    return lower ? -x : x;
}

/* ndtri(p, out): out[i] = quantile(p[i]); both C-contiguous float64 buffers of one length. */
static PyObject *py_ndtri(PyObject *self, PyObject *args)
{
    Py_buffer in, out;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*w*", &in, &out)) return NULL;
    if (in.len != out.len || in.len % (Py_ssize_t)sizeof(double) != 0) {
        PyBuffer_Release(&in);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "ndtri: input and output must be float64 buffers of one length");
        return NULL;
    }
    const double *p = (const double *)in.buf;
    double *x = (double *)out.buf;
    Py_ssize_t n = in.len / (Py_ssize_t)sizeof(double);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) x[i] = quantile(p[i]);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"ndtri", py_ndtri, METH_VARARGS, "ndtri(p, out): the standard normal quantile of each p, written into out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_normal", "The standard normal quantile (Cephes ndtri).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__normal(void) { return PyModule_Create(&module); }
