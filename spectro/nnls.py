"""Batched Lawson–Hanson active-set solver for non-negative least squares.

Solves, for every row y of a batch independently,

    minimise ½‖A x − y‖² + ½ β ‖x‖² + α Σ x      subject to  x ≥ 0

with one shared matrix ``A`` (m × n, here 64 voltages × 3001 wavelengths). All problems of a
batch advance in lock-step: each outer iteration adds, for every unfinished problem, the free
column with the largest positive gradient to its passive set, then solves the passive-set
least-squares problems of the whole batch as one padded, batched linear solve, stepping back
towards feasibility (Lawson & Hanson 1974, ch. 23) wherever a coefficient turned negative.
With β = α = 0 and no early stop this is exact NNLS — the same solution as
``scipy.optimize.nnls`` up to rounding — at a fraction of the per-spectrum cost, because the
Python overhead is paid once per batch, not once per spectrum.

Early stopping (``max_active``, ``residual_target``) turns the same loop into non-negative
orthogonal matching pursuit, which exploits a few-lines prior harder than NNLS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Dictionary:
    """A matrix prepared for repeated batched solves: float32 copy for gradients, Gram matrix.

    Building it costs one n×n Gram product (0.6 GFlop for 64 × 3001); hold on to it when
    reconstructing many batches with the same calibration.
    """

    def __init__(self, A: np.ndarray):
        self.A = np.ascontiguousarray(A, dtype=np.float64)  # (m, n)
        self.A32 = self.A.astype(np.float32)
        self.gram = self.A.T @ self.A  # (n, n)
        self.norm1 = float(np.abs(self.A).sum(axis=0).max())

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape


def _solve_passive(gsub: np.ndarray, b: np.ndarray, valid: np.ndarray, beta: float) -> np.ndarray:
    """Least squares on each problem's passive set.

    gsub: (R, K, K) Gram matrices of the passive columns (entries past the count are stale);
    b: (R, K) right-hand sides Aᵀy − α of those columns; valid: (R, K) bool.
    Returns z: (R, K), zero in padded slots.
    """
    R, K = valid.shape
    G = gsub.copy()
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


@dataclass
class _State:
    """Lock-step solver state; row r's passive set is idx[r, :count[r]]."""

    D: Dictionary
    Y: np.ndarray  # (N, m)
    C: np.ndarray  # (N, n) Aᵀy − α
    idx: np.ndarray  # (N, kcap) passive column indices, slots 0..count−1 in use
    coef: np.ndarray  # (N, kcap) their coefficients
    gsub: np.ndarray  # (N, kcap, kcap) Gram matrix of each passive set, same slot order
    count: np.ndarray  # (N,)
    resid: np.ndarray  # (N, m) y − A x
    beta: float

    def valid(self, rows: np.ndarray, K: int) -> np.ndarray:
        return np.arange(K)[None, :] < self.count[rows][:, None]

    def feasible_solve(self, work: np.ndarray) -> None:
        """Lawson–Hanson inner loop: LS on the passive sets, stepping back to x ≥ 0."""
        for _ in range(self.idx.shape[1] + 1):
            if work.size == 0:
                return
            K = int(self.count[work].max())
            wi = self.idx[work, :K]
            valid = self.valid(work, K)
            z = _solve_passive(self.gsub[work, :K, :K], self.C[work[:, None], wi], valid, self.beta)
            neg = valid & (z <= 0)
            bad = neg.any(axis=1)
            self.coef[work[~bad], :K] = z[~bad]
            wb = work[bad]
            if wb.size == 0:
                return
            xb, zb, vb = self.coef[wb, :K], z[bad], valid[bad]
            ratio = np.where(neg[bad], xb / np.maximum(xb - zb, 1e-300), np.inf)
            step = np.clip(ratio.min(axis=1), 0.0, 1.0)
            xb = xb + step[:, None] * (zb - xb)
            # Drop every passive coefficient that reached zero; the blocking one always does.
            drop = vb & ((xb <= 0) | (ratio == step[:, None]))
            self.coef[wb, :K] = np.where(drop, 0.0, xb)
            self._remove(wb, drop)
            work = wb

    def _remove(self, rows: np.ndarray, drop: np.ndarray) -> None:
        """Remove the flagged slots, moving each row's last slot into the hole (O(K) a drop)."""
        ar = np.arange(rows.size)
        while True:
            has = drop.any(axis=1)
            if not has.any():
                return
            r, a = rows[has], ar[has]
            q = drop[a].argmax(axis=1)  # first slot to drop
            last = self.count[r] - 1
            drop[a, q] = False
            # If the last slot is itself flagged, the move carries its flag into slot q.
            drop[a, q] = drop[a, last]
            drop[a, last] = False
            self.idx[r, q] = self.idx[r, last]
            self.coef[r, q] = self.coef[r, last]
            self.gsub[r, q, :] = self.gsub[r, last, :]
            self.gsub[r, :, q] = self.gsub[r, :, last]
            self.gsub[r, q, q] = self.gsub[r, last, last]
            self.coef[r, last] = 0.0
            self.count[r] = last

    def update_resid(self, rows: np.ndarray) -> None:
        K = int(self.count[rows].max(initial=0))
        cols = self.D.A.T[self.idx[rows, :K]]  # (R, K, m)
        x = np.where(self.valid(rows, K), self.coef[rows, :K], 0.0)
        self.resid[rows] = self.Y[rows] - np.einsum("rk,rkm->rm", x, cols)


def nnls_batch(
    A: np.ndarray | Dictionary,
    Y: np.ndarray,
    *,
    beta: float = 0.0,
    alpha: float | np.ndarray = 0.0,
    max_active: int | None = None,
    residual_target: np.ndarray | float | None = None,
    init: np.ndarray | None = None,
    kkt_tol: float | None = None,
    max_iter: int | None = None,
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
    init : (N, n) feasible starting point (x ≥ 0), e.g. a coarse-grid solution; its support
        becomes the first passive set. The result does not depend on it, only the work does.
    max_iter : cap on outer iterations (default 3·n).

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
    # 2m are never seen with an L1 term and would only cost memory (N × kcap² floats).
    kcap = min(n, max_active if max_active is not None else (m if beta == 0 else 2 * m))
    max_iter = 3 * n if max_iter is None else max_iter
    target = None
    if residual_target is not None:
        target = np.broadcast_to(np.asarray(residual_target, float), (N,)).copy()
    colnorm = float(np.sqrt(D.gram.diagonal().max()))
    if kkt_tol is None:
        kkt_tol = 10 * max(m, n) * np.finfo(float).eps  # exact: as LAPACK-style NNLS codes
    tol_rel = kkt_tol * colnorm

    st = _State(
        D=D, Y=Y, C=Y @ D.A - alpha[:, None],
        idx=np.zeros((N, kcap), dtype=np.intp), coef=np.zeros((N, kcap)),
        gsub=np.zeros((N, kcap, kcap)), count=np.zeros(N, dtype=np.intp),
        resid=Y.copy(), beta=float(beta),
    )
    if init is not None:
        init = np.asarray(init, float)
        if init.shape != (N, n) or (init < 0).any():
            raise ValueError(f"init must be a non-negative ({N}, {n}) array")
        nz = init > 0
        st.count[:] = np.minimum(nz.sum(axis=1), kcap)
        order = np.argsort(~nz, axis=1, kind="stable")[:, :kcap]
        st.idx[:] = order
        valid = st.valid(np.arange(N), kcap)
        st.coef[:] = np.where(valid, np.take_along_axis(init, order, axis=1), 0.0)
        st.gsub[:] = D.gram[order[:, :, None], order[:, None, :]]
        st.feasible_solve(np.arange(N))
        st.update_resid(np.arange(N))

    open_rows = np.arange(N)
    for _ in range(max_iter):
        rows = open_rows
        if rows.size == 0:
            break
        K = int(st.count[rows].max())
        r_i, k_i = np.nonzero(st.valid(rows, K))
        pas_cols = st.idx[rows[r_i], k_i]
        resid = st.resid[rows]
        rnorm2 = np.einsum("rm,rm->r", resid, resid)
        # w = Aᵀ(y − Ax) − βx − α: the descent direction of every free column (βx vanishes
        # off the passive set, and passive columns are masked).
        w = resid.astype(np.float32) @ D.A32
        w -= alpha[rows, None]
        w[r_i, pas_cols] = -np.inf  # passive columns never re-enter
        j = np.argmax(w, axis=1)
        wmax = w[np.arange(rows.size), j].astype(np.float64)
        # Rows that look optimal in float32 get their gradient recomputed in float64 and
        # are judged against a tight tolerance, so the answer is exact NNLS, not a float32 one.
        check = np.nonzero(wmax <= max(1e-6, kkt_tol) * colnorm * np.sqrt(rnorm2))[0]
        if check.size:
            w64 = resid[check] @ D.A - alpha[rows[check], None]
            sel = np.isin(r_i, check)
            w64[np.searchsorted(check, r_i[sel]), pas_cols[sel]] = -np.inf
            j[check] = np.argmax(w64, axis=1)
            wmax[check] = w64[np.arange(check.size), j[check]]
        finished = (wmax <= tol_rel * np.sqrt(rnorm2)) | (st.count[rows] >= kcap)
        if target is not None:
            finished |= rnorm2 <= target[rows]
        rows, j = rows[~finished], j[~finished]
        if rows.size == 0:
            break
        p = st.count[rows]
        st.idx[rows, p] = j
        st.coef[rows, p] = 0.0
        # Grow each passive Gram matrix by the entering column's row and column.
        K = int(p.max()) + 1
        gj = D.gram[j[:, None], st.idx[rows, :K]]  # (R, K); slots past p are stale, never read
        st.gsub[rows, p, :K] = gj
        st.gsub[rows, :K, p] = gj
        st.count[rows] += 1
        st.feasible_solve(rows)
        # An entering column that the inner loop threw straight out had a gradient at rounding
        # level: that problem is optimal to working precision.
        K = int(st.count[rows].max(initial=0))
        entered = ((st.idx[rows, :K] == j[:, None]) & st.valid(rows, K)).any(axis=1)
        open_rows = rows[entered]
        st.update_resid(rows)

    X = np.zeros((N, n))
    r_i, k_i = np.nonzero(st.valid(np.arange(N), kcap))
    X[r_i, st.idx[r_i, k_i]] = st.coef[r_i, k_i]
    return X
