"""Pure-numpy path of the batched Lawson–Hanson solver (used when the C kernel is not built).

Same algorithm and answers as the C path in :mod:`spectro.nnls`: problems advance in
lock-step, passive-set least squares are padded, batched LAPACK solves from each problem's
passive Gram matrix, and finished problems are compacted out of the working arrays so the
hot operations run on contiguous arrays rather than gathered copies.
"""

from __future__ import annotations

import numpy as np

from spectro.nnls import Dictionary, _select


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


def solve_numpy(D: Dictionary, Y, alpha, beta: float, kcap: int, target, max_iter: int, tol_rel: float, out: np.ndarray) -> np.ndarray:
    """Solve into ``out`` (zeroed, (N, n)); arguments as prepared by :func:`spectro.nnls.nnls_batch`."""
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
