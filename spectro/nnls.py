"""Batched Lawson–Hanson active-set solver for non-negative least squares.

Solves, for every row y of a batch independently,

    minimise ½‖A x − y‖² + ½ β ‖x‖² + α Σ x      subject to  x ≥ 0

with one shared matrix ``A`` (m × n, here 64 voltages × 3001 wavelengths). All problems of a
batch advance in lock-step: each outer iteration computes the gradients of every unfinished
problem with one float32 BLAS product (on every third column, refined locally — any column
with a positive gradient may enter), adds each problem's entering column to its passive set
and runs the Lawson–Hanson inner loop (Lawson & Hanson 1974, ch. 23): least squares on the
passive set, stepping back towards feasibility wherever a coefficient turned non-positive.
A problem is finished only when a float64 gradient over every column certifies optimality,
so with β = α = 0 and no early stop the answer is exact NNLS — the same solution as
``scipy.optimize.nnls`` up to rounding.

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


def _solve(G: np.ndarray, b: np.ndarray, valid: np.ndarray, beta: float) -> np.ndarray:
    """Least squares on each problem's passive set, from its Gram matrix.

    G: (R, K, K) passive Gram matrices (entries past a row's count are stale, and G is
    overwritten); b: (R, K) Aᵀy − α of the passive columns; valid: (R, K) bool.
    Returns z: (R, K), zero in padded slots.
    """
    R, K = valid.shape
    inv = ~valid
    if inv.any():  # padded slots become identity rows with zero rhs -> z = 0 there
        G[inv] = 0.0
        G.transpose(0, 2, 1)[inv] = 0.0
        b = np.where(valid, b, 0.0)
    ar = np.arange(K)
    G[:, ar, ar] += np.where(valid, beta, 1.0)
    try:
        return np.linalg.solve(G, b[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        # A passive set can be (numerically) rank-deficient when columns are near-duplicates;
        # the minimum-norm least-squares solution is then the right answer.
        return np.stack([np.linalg.lstsq(G[r], b[r], rcond=None)[0] for r in range(R)])


class _Batch:
    """Working state of the unfinished problems; row i of every array is one problem.

    Problem i's passive set is ``idx[i, :count[i]]`` with coefficients ``coef``, right-hand
    sides ``rhs`` (Aᵀy − α at those columns) and Gram matrix ``gsub[i, :count, :count]`` in
    the same slot order.
    """

    def __init__(self, D: Dictionary, Y: np.ndarray, alpha: np.ndarray, beta: float, kcap: int):
        N, m = Y.shape
        self.D, self.beta, self.kcap = D, beta, kcap
        self.rows = np.arange(N)  # original problem index of each working row
        self.Y, self.alpha = Y, alpha
        self.resid = Y.copy()  # y − A x
        cap = min(kcap, 32)  # slot capacity; grows on demand
        self.idx = np.zeros((N, cap), dtype=np.intp)
        self.coef = np.zeros((N, cap))
        self.rhs = np.zeros((N, cap))
        self.gsub = np.zeros((N, cap, cap))
        self.count = np.zeros(N, dtype=np.intp)

    def __len__(self) -> int:
        return self.rows.size

    def keep(self, mask: np.ndarray) -> None:
        """Drop the working rows where ``mask`` is False (they are finished)."""
        for name in ("rows", "Y", "alpha", "resid", "idx", "coef", "rhs", "count", "gsub"):
            setattr(self, name, getattr(self, name)[mask])

    def _grow(self) -> None:
        cap = self.idx.shape[1]
        new = min(self.kcap, 2 * cap)
        pad = new - cap
        self.idx = np.pad(self.idx, ((0, 0), (0, pad)))
        self.coef = np.pad(self.coef, ((0, 0), (0, pad)))
        self.rhs = np.pad(self.rhs, ((0, 0), (0, pad)))
        self.gsub = np.pad(self.gsub, ((0, 0), (0, pad), (0, pad)))

    def valid(self, K: int, sub: np.ndarray | slice = slice(None)) -> np.ndarray:
        return np.arange(K)[None, :] < self.count[sub][:, None]

    def append(self, sub: np.ndarray, j: np.ndarray) -> None:
        """Add column j[i] to working row sub[i] (one column per row)."""
        p = self.count[sub]
        if p.max() >= self.idx.shape[1]:
            self._grow()
        K = int(p.max()) + 1
        self.idx[sub, p] = j
        self.coef[sub, p] = 0.0
        self.rhs[sub, p] = np.einsum("rm,rm->r", self.D.AT[j], self.Y[sub]) - self.alpha[sub]
        gj = self.D.gram[j[:, None], self.idx[sub, :K]]  # (R, K); slots past p are stale, never read
        self.gsub[sub, p, :K] = gj
        self.gsub[sub, :K, p] = gj
        self.count[sub] += 1

    def remove(self, sub: np.ndarray, drop: np.ndarray) -> None:
        """Remove the flagged slots of working rows ``sub``, moving each row's last slot into
        the hole (O(K) a removal, no re-sorting)."""
        ar_all = np.arange(sub.size)
        while True:
            has = drop.any(axis=1)
            if not has.any():
                return
            r, a = sub[has], ar_all[has]
            q = drop[a].argmax(axis=1)  # first slot to drop
            last = self.count[r] - 1
            drop[a, q] = drop[a, last]  # a flagged last slot carries its flag into q
            drop[a, last] = False
            for arr in (self.idx, self.coef, self.rhs):
                arr[r, q] = arr[r, last]
            self.gsub[r, q, :] = self.gsub[r, last, :]
            self.gsub[r, :, q] = self.gsub[r, :, last]
            self.gsub[r, q, q] = self.gsub[r, last, last]
            self.coef[r, last] = 0.0
            self.count[r] = last

    def feasible_solve(self) -> None:
        """Lawson–Hanson inner loop over every working row: LS on the passive sets, stepping
        back towards x ≥ 0 where a coefficient turned non-positive."""
        sub = np.arange(len(self))
        for _ in range(self.kcap + 1):
            K = int(self.count[sub].max())
            valid = self.valid(K, sub)
            if sub.size == len(self):  # all rows: slices, no gathered copies
                z = _solve(self.gsub[:, :K, :K].copy(), self.rhs[:, :K], valid, self.beta)
            else:
                z = _solve(self.gsub[sub, :K, :K], self.rhs[sub, :K], valid, self.beta)
            neg = valid & (z <= 0)
            bad = neg.any(axis=1)
            self.coef[sub[~bad], :K] = z[~bad]
            if not bad.any():
                return
            sb = sub[bad]
            xb, zb, vb = self.coef[sb, :K], z[bad], valid[bad]
            ratio = np.where(neg[bad], xb / np.maximum(xb - zb, 1e-300), np.inf)
            step = np.clip(ratio.min(axis=1), 0.0, 1.0)
            xb = xb + step[:, None] * (zb - xb)
            # Drop every passive coefficient that reached zero; the blocking one always does.
            drop = vb & ((xb <= 0) | (ratio == step[:, None]))
            self.coef[sb, :K] = np.where(drop, 0.0, xb)
            self.remove(sb, drop)
            sub = sb

    def update_resid(self) -> None:
        K = int(self.count.max(initial=0))
        cols = self.D.AT[self.idx[:, :K]]  # (R, K, m)
        x = np.where(self.valid(K), self.coef[:, :K], 0.0)
        self.resid = self.Y - np.einsum("rk,rkm->rm", x, cols)

    def write(self, X: np.ndarray, mask: np.ndarray | slice = slice(None)) -> None:
        rows, idx, coef, count = self.rows[mask], self.idx[mask], self.coef[mask], self.count[mask]
        r_i, k_i = np.nonzero(np.arange(idx.shape[1])[None, :] < count[:, None])
        X[rows[r_i], idx[r_i, k_i]] = coef[r_i, k_i]


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
    a problem that looks optimal in float32 has its gradient recomputed in float64 and is
    finished only when no free column exceeds 10·max(m, n)·ε·max‖a_j‖·‖r‖. Passive-set
    solves are float64.
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

    X = out
    st = _Batch(D, Y, alpha, float(beta), kcap)
    for _ in range(max_iter):
        if len(st) == 0:
            break
        K = int(st.count.max())
        tgt = None if target is None else target[st.rows]
        j, finished = _select(D, st.resid, st.alpha, st.idx[:, :K], st.count, kcap, tol_rel, tgt)
        if finished.any():
            st.write(X, finished)
            st.keep(~finished)
            j = j[~finished]
            if len(st) == 0:
                break
        st.append(np.arange(len(st)), j)
        st.feasible_solve()
        st.update_resid()
        # An entering column that the inner loop threw straight out had a gradient at rounding
        # level: that problem is optimal to working precision.
        K = int(st.count.max(initial=0))
        entered = ((st.idx[:, :K] == j[:, None]) & st.valid(K)).any(axis=1)
        if not entered.all():
            st.write(X, ~entered)
            st.keep(entered)
    st.write(X)
    return X


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
    A problem that looks optimal in float32 is judged on a float64 gradient over every
    column against 10·max(m, n)·ε·max‖a_j‖·‖r‖, so the answer is exact NNLS, not a float32
    approximation of it.
    """
    rnorm2 = np.einsum("rm,rm->r", resid, resid)
    j, wmax = _gradient_pick(D, resid, alpha, idx, count, PICK_STRIDE)
    check = np.flatnonzero(wmax <= 1e-6 * D.colnorm * np.sqrt(rnorm2))
    if check.size:
        w64 = resid[check] @ D.A - alpha[check, None]
        ri, ki = np.nonzero(np.arange(idx.shape[1])[None, :] < count[check][:, None])
        w64[ri, idx[check][ri, ki]] = -np.inf
        j[check] = np.argmax(w64, axis=1)
        wmax[check] = w64[np.arange(check.size), j[check]]
    finished = (wmax <= tol_rel * np.sqrt(rnorm2)) | (count >= kcap)
    if target is not None:
        finished |= rnorm2 <= target
    return j, finished


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
