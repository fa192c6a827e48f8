"""Batched Lawson–Hanson active-set solver for non-negative least squares.

Solves, for every row y of a batch independently,

    minimise ½‖A x − y‖² + ½ β ‖x‖² + α Σ x      subject to  x ≥ 0

with one shared matrix ``A`` (m × n, here 64 voltages × 3001 wavelengths). All problems of a
batch advance in lock-step: each outer iteration computes the gradients of every unfinished
problem with one float32 BLAS product (on every third column, refined locally — any column
with a positive gradient may enter), adds each problem's entering column to its passive set
and runs the Lawson–Hanson inner loop (Lawson & Hanson 1974, ch. 23): least squares on the
passive set, stepping back towards feasibility wherever a coefficient turned non-positive.
A problem is finished only when optimality is certified for every column — by a float32
bound where that suffices, in float64 for the few columns near zero — so with β = α = 0 and
no early stop the answer is exact NNLS — the same solution as ``scipy.optimize.nnls`` up
to rounding.

The per-problem bookkeeping (bordered Cholesky updates, Givens downdates on removal,
residuals) runs in a small optional C extension (``spectro/_ext/lhkernel.c``) when it was
compiled at install time; otherwise a pure-numpy lock-step path (padded batched solves,
finished problems compacted out of the working arrays) gives the same answers, about half
as fast. See docs/benchmarks.md for the speed of each against a scipy loop.

Early stopping (``max_active``, ``residual_target``) turns the same loop into non-negative
orthogonal matching pursuit, which exploits a few-lines prior harder than NNLS.
"""

from __future__ import annotations

import functools

import numpy as np

try:  # optional compiled bookkeeping (see setup.py); the numpy path gives the same answers
    from spectro._ext import lhkernel as _kernel
except ImportError:  # pragma: no cover - depends on the install
    _kernel = None

BACKENDS = ("auto", "c", "numpy")


def active_backend() -> str:
    """What ``backend="auto"`` uses on this install: "c" or "numpy"."""
    return "c" if _kernel is not None else "numpy"

PICK_STRIDE = 3  # gradient on every 3rd column, refined locally (measured fastest of 1–6)


class Dictionary:
    """A matrix prepared for repeated batched solves: float32 copies for gradients, and the
    Gram matrix on demand. Hold on to it when reconstructing many batches with one calibration.
    """

    def __init__(self, A: np.ndarray):
        self.A = np.ascontiguousarray(A, dtype=np.float64)  # (m, n)
        self.AT = np.ascontiguousarray(self.A.T)  # (n, m): rows gathered per passive column
        self.A32 = self.A.astype(np.float32)
        self.A32T = np.ascontiguousarray(self.A32.T)  # (n, m)
        self._coarse: dict[int, np.ndarray] = {}
        self.colnorm = float(np.sqrt(np.max(np.einsum("mn,mn->n", self.A, self.A))))

    @functools.cached_property
    def gram(self) -> np.ndarray:
        """AᵀA (n, n), built on first use (72 MB for 3001 columns): the numpy path and the
        pair search need it, the C kernel does not."""
        return self.AT @ self.A

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape

    def coarse(self, stride: int) -> np.ndarray:
        """Every stride-th column of the float32 matrix, contiguous (m, ⌈n/stride⌉)."""
        if stride not in self._coarse:
            self._coarse[stride] = np.ascontiguousarray(self.A32[:, ::stride])
        return self._coarse[stride]


def nnls_batch(
    A: np.ndarray | Dictionary,
    Y: np.ndarray,
    *,
    beta: float = 0.0,
    alpha: float | np.ndarray = 0.0,
    max_active: int | None = None,
    residual_target: np.ndarray | float | None = None,
    max_iter: int | None = None,
    backend: str = "auto",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Solve many non-negative least-squares problems with one matrix.

    Parameters
    ----------
    A : (m, n) float array or a prepared :class:`Dictionary` — columns are the dictionary
        (calibration rows, transposed).
    Y : (N, m) float array — right-hand sides (interferograms).
    beta : ridge weight β ≥ 0 (elastic net's L2 part).
    alpha : L1 weight α ≥ 0, scalar or (N,) (with x ≥ 0 the L1 norm is Σ x).
    max_active : stop a problem once its support reaches this size (matching pursuit).
    residual_target : stop a problem once ‖A x − y‖² ≤ this (scalar or (N,)); the
        discrepancy principle when set to the expected noise energy.
    max_iter : cap on outer iterations (default 3·n).
    backend : "c" uses the compiled per-problem bookkeeping (lhkernel), "numpy" the pure
        numpy lock-step path, "auto" the first available. Both give the same solution.
    out : optional (N, n) float array to write the solution into (it is zeroed first);
        saves allocating and copying a dense result per batch.

    Returns
    -------
    X : (N, n) float64, X ≥ 0.

    Notes
    -----
    The gradient that picks entering columns is computed in float32 (twice the BLAS speed);
    a problem that looks optimal in float32 is finished only when no free column's exact
    gradient exceeds 10·max(m, n)·ε·max‖a_j‖·‖r‖ (float64 wherever the float32 bound cannot
    decide). Passive-set solves are float64.
    """
    D = A if isinstance(A, Dictionary) else Dictionary(A)
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    m, n = D.shape
    N = Y.shape[0]
    if Y.ndim != 2 or Y.shape[1] != m:
        raise ValueError(f"Y must have shape (N, {m}), got {Y.shape}")
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (N,))
    if beta < 0 or np.any(alpha < 0):
        raise ValueError(f"beta and alpha must be >= 0, got beta={beta}, min alpha={alpha.min(initial=0)}")
    # Without a ridge at most m columns can be linearly independent; with one, supports past
    # 2m are never seen with an L1 term and would only cost memory.
    kcap = min(n, max_active if max_active is not None else (m if beta == 0 else 2 * m))
    max_iter = 3 * n if max_iter is None else max_iter
    target = None if residual_target is None else np.broadcast_to(np.asarray(residual_target, float), (N,)).copy()
    tol_rel = 10 * max(m, n) * np.finfo(float).eps * D.colnorm  # as LAPACK-style NNLS codes

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend == "c" and _kernel is None:
        raise RuntimeError("the compiled NNLS kernel is not built on this install (reinstall with a C compiler)")
    if out is None:
        out = np.zeros((N, n))
    elif out.shape != (N, n):
        raise ValueError(f"out must have shape ({N}, {n}), got {out.shape}")
    else:
        out[...] = 0.0
    if backend != "numpy" and _kernel is not None:
        return _nnls_kernel(D, Y, alpha, float(beta), kcap, target, max_iter, tol_rel, out)

    from spectro._nnls_numpy import solve_numpy

    return solve_numpy(D, Y, alpha, float(beta), kcap, target, max_iter, tol_rel, out)


def _gradient_pick(D: Dictionary, resid: np.ndarray, alpha: np.ndarray, idx: np.ndarray, count: np.ndarray, stride: int = 1):
    """Entering column and its gradient for each problem: float32 BLAS product, passive
    columns masked. resid (R, m), alpha (R,), idx (R, K), count (R,) → (j, wmax float64).

    With ``stride`` > 1 the gradient is computed on every stride-th column, then refined on
    the 2·stride − 1 columns around the best one. Any column with a positive gradient is a
    valid entering column for Lawson–Hanson, so this changes the work, not the answer; a
    problem that looks optimal is checked on every column in float64 by the caller.
    """
    R, K = idx.shape
    r32 = resid.astype(np.float32)
    valid = np.arange(K)[None, :] < count[:, None]
    r_i, k_i = np.nonzero(valid)
    pas = idx[r_i, k_i]
    s = stride
    if s > 1:
        w = r32 @ D.coarse(s)
        on = pas % s == 0
        w[r_i[on], pas[on] // s] = -np.inf
        centre = np.argmax(w, axis=1) * s
        cand = np.clip(centre[:, None] + np.arange(1 - s, s)[None, :], 0, D.shape[1] - 1)  # (R, 2s−1)
        w = np.einsum("rcm,rm->rc", D.A32T[cand], r32)
        w[((cand[:, :, None] == idx[:, None, :]) & valid[:, None, :]).any(axis=2)] = -np.inf
    else:
        w = r32 @ D.A32
        w[r_i, pas] = -np.inf  # passive columns never re-enter
    if np.any(alpha):
        w -= alpha[:, None].astype(np.float32)
    a = np.argmax(w, axis=1)
    j = cand[np.arange(R), a] if s > 1 else a
    return j, w[np.arange(R), a].astype(np.float64)


def _select(D: Dictionary, resid, alpha, idx, count, kcap: int, tol_rel: float, target):
    """Entering column of each open problem, and which problems are finished.

    resid (R, m), alpha (R,), idx (R, K), count (R,), target (R,) or None → (j, finished).
    A problem that looks optimal in float32 is judged (:func:`_certify`) on the exact float64
    gradient of every column that could be positive, against 10·max(m, n)·ε·max‖a_j‖·‖r‖,
    so the answer is exact NNLS, not a float32 approximation of it.
    """
    rnorm2 = np.einsum("rm,rm->r", resid, resid)
    j, wmax = _gradient_pick(D, resid, alpha, idx, count, PICK_STRIDE)
    check = np.flatnonzero(wmax <= 1e-6 * D.colnorm * np.sqrt(rnorm2))
    if check.size:
        j[check], wmax[check] = _certify(D, resid[check], alpha[check], idx[check], count[check], rnorm2[check])
    finished = (wmax <= tol_rel * np.sqrt(rnorm2)) | (count >= kcap)
    if target is not None:
        finished |= rnorm2 <= target
    return j, finished


def _certify(D: Dictionary, resid, alpha, idx, count, rnorm2):
    """Exact (float64) best free column and its gradient for problems that look optimal.

    A full float32 gradient bounds every column: a float32 dot product of 64 terms is off by
    less than 4·10⁻⁶·‖r‖·‖a‖, so a column whose float32 gradient is below −10⁻⁵·max‖a‖·‖r‖
    cannot be positive. Only the few columns above that are recomputed in float64.
    """
    R, K = idx.shape
    w = resid.astype(np.float32) @ D.A32 - alpha[:, None].astype(np.float32)
    ri, ki = np.nonzero(np.arange(K)[None, :] < count[:, None])
    w[ri, idx[ri, ki]] = -np.inf
    r_c, c_c = np.nonzero(w > (-1e-5 * D.colnorm * np.sqrt(rnorm2))[:, None].astype(np.float32))
    vals = np.einsum("pm,pm->p", D.AT[c_c], resid[r_c]) - alpha[r_c]
    j = np.zeros(R, dtype=np.intp)
    wmax = np.full(R, -np.inf)
    if vals.size:
        order = np.lexsort((vals, r_c))  # by row, then value: the last of each row is its best
        last = order[np.r_[r_c[order][1:] != r_c[order][:-1], True]]
        j[r_c[last]], wmax[r_c[last]] = c_c[last], vals[last]
    return j, wmax


def _nnls_kernel(D, Y, alpha, beta, kcap, target, max_iter, tol_rel, X) -> np.ndarray:
    """The same lock-step Lawson–Hanson loop with the per-problem work in C (lhkernel)."""
    N = Y.shape[0]
    AT = np.ascontiguousarray(D.AT)
    Yc = np.ascontiguousarray(Y)
    alpha = np.ascontiguousarray(alpha, dtype=np.float64)
    idx = np.zeros((N, kcap), dtype=np.int64)
    coef = np.zeros((N, kcap))
    rhs = np.zeros((N, kcap))
    chol = np.zeros((N, kcap * (kcap + 1) // 2))  # packed lower-triangular factors
    count = np.zeros(N, dtype=np.int64)
    resid = Yc.copy()
    open_rows = np.arange(N, dtype=np.int64)
    for _ in range(max_iter):
        if open_rows.size == 0:
            break
        K = int(count[open_rows].max())
        tgt = None if target is None else target[open_rows]
        j, finished = _select(D, resid[open_rows], alpha[open_rows], idx[open_rows, :K], count[open_rows], kcap, tol_rel, tgt)
        open_rows, j = open_rows[~finished], j[~finished].astype(np.int64)
        if open_rows.size == 0:
            break
        status = np.zeros(open_rows.size, dtype=np.int8)
        _kernel.lh_advance(AT, Yc, alpha, idx, coef, rhs, chol, count, resid, open_rows, j, status, beta)
        # status 0: the entering column was dependent or thrown straight out — optimal to
        # working precision (as in the numpy path).
        open_rows = open_rows[status == 1]
    r_i, k_i = np.nonzero(np.arange(kcap)[None, :] < count[:, None])
    X[r_i, idx[r_i, k_i]] = coef[r_i, k_i]
    return X
