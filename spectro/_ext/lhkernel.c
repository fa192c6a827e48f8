/*
 * Per-problem bookkeeping of the batched Lawson–Hanson NNLS solver (spectro/nnls.py).
 *
 * The Python side computes the gradients of all open problems with one BLAS product and
 * picks each problem's entering column; lh_advance() then, for every open problem, appends
 * that column to the passive set (a bordered Cholesky update of the passive Gram matrix),
 * runs the Lawson–Hanson inner loop (solve, step back to feasibility, drop zeros with a
 * Givens downdate of the factor) and refreshes the residual. Same algorithm and same answers as
 * the pure-numpy path; it only removes the per-iteration interpreter overhead.
 *
 * Arrays come in through the buffer protocol (no numpy headers needed) and are trusted to be
 * C-contiguous with the dtypes checked by the Python wrapper.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

/* Packed lower-triangular storage: row i holds columns 0..i and starts at i(i+1)/2, so a
 * factor of K rows is one contiguous block (cache- and prefetch-friendly). */
#define PK(i, t) ((i) * ((i) + 1) / 2 + (t))

typedef struct {
    const double *AT;   /* (n, m) dictionary columns as rows */
    const double *Y;    /* (N, m) */
    const double *alpha;/* (N,) */
    long long *idx;     /* (N, kcap) */
    double *coef;       /* (N, kcap) */
    double *rhs;        /* (N, kcap) Aᵀy − α at the passive columns */
    double *chol;       /* (N, kcap(kcap+1)/2) lower Cholesky factor of G_PP + βI, packed by rows */
    long long *count;   /* (N,) */
    double *resid;      /* (N, m) */
    Py_ssize_t n, m, kcap;
    double beta;
} State;

/* z = (L Lᵀ)⁻¹ rhs for problem r. */
static void chol_solve(const State *s, Py_ssize_t r, double *z) {
    Py_ssize_t K = (Py_ssize_t)s->count[r], kc = s->kcap;
    const double *L = s->chol + r * (kc * (kc + 1) / 2), *b = s->rhs + r * kc;
    for (Py_ssize_t i = 0; i < K; i++) {
        const double *Li = L + PK(i, 0);
        double v = b[i];
        for (Py_ssize_t t = 0; t < i; t++) v -= Li[t] * z[t];
        z[i] = v / Li[i];
    }
    for (Py_ssize_t i = K - 1; i >= 0; i--) {
        double v = z[i];
        for (Py_ssize_t t = i + 1; t < K; t++) v -= L[PK(t, i)] * z[t];
        z[i] = v / L[PK(i, i)];
    }
}

/* Append column j to problem r; returns 0 if it is numerically inside the passive span. */
static int append(State *s, Py_ssize_t r, long long j) {
    Py_ssize_t K = (Py_ssize_t)s->count[r], kc = s->kcap, m = s->m;
    long long *ix = s->idx + r * kc;
    double *L = s->chol + r * (kc * (kc + 1) / 2), *LK = L + PK(K, 0);
    /* Gram entries as dot products of the (cache-resident) dictionary columns: cheaper than
     * random reads from the n × n Gram matrix, which does not fit in cache. */
    const double *aj = s->AT + j * m;
    double gjj = s->beta;
    for (Py_ssize_t t = 0; t < m; t++) gjj += aj[t] * aj[t];
    double d2 = gjj;
    for (Py_ssize_t i = 0; i < K; i++) {
        const double *ai = s->AT + ix[i] * m;
        double v = 0.0;
        for (Py_ssize_t t = 0; t < m; t++) v += aj[t] * ai[t];
        const double *Li = L + PK(i, 0);
        for (Py_ssize_t t = 0; t < i; t++) v -= Li[t] * LK[t];
        v /= Li[i];
        LK[i] = v;
        d2 -= v * v;
    }
    if (!(d2 > 1e-14 * gjj)) return 0;
    LK[K] = sqrt(d2);
    ix[K] = j;
    s->coef[r * kc + K] = 0.0;
    double b = -s->alpha[r];
    const double *y = s->Y + r * m;
    for (Py_ssize_t t = 0; t < m; t++) b += aj[t] * y[t];
    s->rhs[r * kc + K] = b;
    s->count[r] = K + 1;
    return 1;
}

/* Remove slot q of problem r, keeping the order of the others, and downdate the Cholesky
 * factor with Givens rotations (O(K²), no Gram-matrix reads): deleting row q of L leaves a
 * factor of the reduced Gram matrix with one superdiagonal, which the rotations clear. */
static void remove_slot(State *s, Py_ssize_t r, Py_ssize_t q) {
    Py_ssize_t K = (Py_ssize_t)s->count[r], kc = s->kcap;
    long long *ix = s->idx + r * kc;
    double *x = s->coef + r * kc, *b = s->rhs + r * kc, *L = s->chol + r * (kc * (kc + 1) / 2);
    double sup[512]; /* sup[i]: the entry (i, i+1) that deleting row q leaves above the diagonal */
    for (Py_ssize_t i = q; i < K - 1; i++) {
        ix[i] = ix[i + 1];
        x[i] = x[i + 1];
        b[i] = b[i + 1];
        sup[i] = L[PK(i + 1, i + 1)];
        memmove(L + PK(i, 0), L + PK(i + 1, 0), (size_t)(i + 1) * sizeof(double));
    }
    x[K - 1] = 0.0;
    for (Py_ssize_t k = q; k < K - 1; k++) {
        double a = L[PK(k, k)], e = sup[k];
        double h = hypot(a, e);
        double c = h > 0.0 ? a / h : 1.0, sn = h > 0.0 ? e / h : 0.0;
        L[PK(k, k)] = h;
        for (Py_ssize_t i = k + 1; i < K - 1; i++) {
            double u = L[PK(i, k)], v = L[PK(i, k + 1)];
            L[PK(i, k)] = c * u + sn * v;
            L[PK(i, k + 1)] = -sn * u + c * v;
        }
    }
    s->count[r] = K - 1;
}

/* Lawson–Hanson inner loop for problem r. Returns 1 if column j is still passive after it. */
static int feasible_solve(State *s, Py_ssize_t r, long long j, double *z) {
    Py_ssize_t kc = s->kcap;
    long long *ix = s->idx + r * kc;
    double *x = s->coef + r * kc;
    for (Py_ssize_t guard = 0; guard <= kc + 1; guard++) {
        Py_ssize_t K = (Py_ssize_t)s->count[r];
        chol_solve(s, r, z);
        double step = 2.0;
        for (Py_ssize_t i = 0; i < K; i++)
            if (z[i] <= 0.0) {
                double den = x[i] - z[i];
                double ratio = x[i] / (den > 1e-300 ? den : 1e-300);
                if (ratio < step) step = ratio;
            }
        if (step > 1.0) { /* feasible */
            memcpy(x, z, (size_t)K * sizeof(double));
            break;
        }
        if (step < 0.0) step = 0.0;
        /* Step towards z; drop every coefficient that reached zero (the blocking one always
         * does), from the last slot down so that slot numbers stay valid. */
        for (Py_ssize_t i = K - 1; i >= 0; i--) {
            int blocking = 0;
            if (z[i] <= 0.0) {
                double den = x[i] - z[i];
                blocking = (x[i] / (den > 1e-300 ? den : 1e-300)) == step;
            }
            x[i] = x[i] + step * (z[i] - x[i]);
            if (x[i] <= 0.0 || blocking) remove_slot(s, r, i);
        }
    }
    Py_ssize_t K = (Py_ssize_t)s->count[r];
    for (Py_ssize_t i = 0; i < K; i++)
        if (ix[i] == j) return 1;
    return 0;
}

static void update_resid(State *s, Py_ssize_t r) {
    Py_ssize_t K = (Py_ssize_t)s->count[r], kc = s->kcap, m = s->m;
    double *res = s->resid + r * m;
    memcpy(res, s->Y + r * m, (size_t)m * sizeof(double));
    for (Py_ssize_t i = 0; i < K; i++) {
        const double *a = s->AT + s->idx[r * kc + i] * m;
        double c = s->coef[r * kc + i];
        for (Py_ssize_t t = 0; t < m; t++) res[t] -= c * a[t];
    }
}

#define NBUF 12

static PyObject *lh_advance(PyObject *self, PyObject *args) {
    PyObject *objs[NBUF];
    double beta;
    Py_buffer buf[NBUF];
    int got = 0;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOd", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5],
                          &objs[6], &objs[7], &objs[8], &objs[9], &objs[10], &objs[11], &beta))
        return NULL;
    for (got = 0; got < NBUF; got++) {
        int flags = (got <= 2 || got == 9 || got == 10) ? PyBUF_C_CONTIGUOUS : (PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE);
        if (PyObject_GetBuffer(objs[got], &buf[got], flags | PyBUF_FORMAT) < 0) goto done;
    }
    /* order: AT Y alpha idx coef rhs chol count resid rows j status */
    State s;
    s.AT = buf[0].buf; s.Y = buf[1].buf; s.alpha = buf[2].buf;
    s.idx = buf[3].buf; s.coef = buf[4].buf; s.rhs = buf[5].buf; s.chol = buf[6].buf;
    s.count = buf[7].buf; s.resid = buf[8].buf;
    s.m = buf[1].shape[1]; s.n = buf[0].shape[0]; s.kcap = buf[3].shape[1]; s.beta = beta;
    const long long *rows = buf[9].buf, *jj = buf[10].buf;
    signed char *status = buf[11].buf;
    Py_ssize_t R = buf[9].shape[0];
    double z[512];
    if (s.kcap > 512) { PyErr_SetString(PyExc_ValueError, "kcap > 512 not supported"); goto done; }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t q = 0; q < R; q++) {
        Py_ssize_t r = (Py_ssize_t)rows[q];
        if (s.count[r] >= s.kcap || !append(&s, r, jj[q])) { status[q] = 0; continue; }
        status[q] = (signed char)feasible_solve(&s, r, jj[q], z);
        update_resid(&s, r);
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    for (int i = 0; i < got; i++) PyBuffer_Release(&buf[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"lh_advance", lh_advance, METH_VARARGS, "Append entering columns and run the Lawson–Hanson inner loop for open problems."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "lhkernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit_lhkernel(void) { return PyModule_Create(&module); }
