"""Spectrum reconstruction: interferograms (N, V) → spectra (N, W) with a calibration.

One switch, ``method=``, over a small registry (:data:`METHODS`):

* ``nnls`` (default) — exact non-negative least squares over all W columns (batched
  Lawson–Hanson, :mod:`spectro.nnls`). Non-negativity is what keeps lines sharp.
* ``sparse`` — non-negative orthogonal matching pursuit: the same active-set loop stopped by
  the discrepancy principle, ‖Ax − y‖² ≤ τ·V·σ̂² (τ = 0.5), with σ̂ estimated per sweep from
  the part of the interferogram outside the matrix's column space. A harder few-lines prior.
* ``elastic`` — non-negative elastic net (L1 + L2), in the spirit of Kita et al. 2018.
* ``tikhonov`` — ridge over all columns, λ per sweep by generalised cross-validation. No
  non-negativity: the classical baseline that smears lines.
* ``pairs`` — exhaustive two-line maximum-likelihood search inside the window that NNLS
  points to: the resolution yardstick, not a general-purpose method.
* ``smooth`` — for dense spectra (lamps, LEDs, absorption bands): non-negative P-spline,
  x = Bθ with cubic B-splines B ≥ 0, θ ≥ 0, a second-difference penalty μ‖D²θ‖², knot
  spacing and μ chosen per sweep by GCV of the unconstrained fit.
"""

from __future__ import annotations

import inspect

import numpy as np
from scipy.interpolate import BSpline

from calibration.errors import DataError
from calibration.matrix import Calibration
from spectro.nnls import Dictionary, nnls_batch

CHUNK = 512  # sweeps per solver batch: bounds memory (≈ 35 kB per sweep); 512 measured fastest


def complement_basis(A: np.ndarray, rtol: float = 1e-6) -> np.ndarray:
    """Orthonormal basis (V, d) of the interferogram directions no spectrum can produce."""
    # Eigen-decomposition of the small V × V Gram matrix A Aᵀ: the same left singular vectors
    # as an SVD of A (V × W), without the W × W factor a full SVD would build.
    w, U = np.linalg.eigh(A @ A.T)
    w, U = w[::-1], U[:, ::-1]
    s = np.sqrt(np.maximum(w, 0.0))
    rank = int(np.sum(s > rtol * s[0]))
    return U[:, rank:]


class NNLS:
    """Exact non-negative least squares over every calibration row."""

    def __init__(self, cal: Calibration):
        self.dictionary = Dictionary(cal.matrix.T)

    def solve(self, Y: np.ndarray, out: np.ndarray) -> None:
        nnls_batch(self.dictionary, Y, out=out)


class Sparse:
    """Non-negative OMP stopped by the discrepancy principle (``tau`` scales the target)."""

    def __init__(self, cal: Calibration, *, tau: float = 0.5, max_lines: int | None = None, noise_sigma: float | None = None):
        self.dictionary = Dictionary(cal.matrix.T)
        self.tau, self.max_lines, self.noise_sigma = float(tau), max_lines, noise_sigma
        self.complement = complement_basis(self.dictionary.A)
        if noise_sigma is None and self.complement.shape[1] < 2:
            raise ValueError("the calibration matrix spans (almost) every voltage direction, so the noise cannot be estimated from the data; pass noise_sigma")

    def noise_variance(self, Y: np.ndarray) -> np.ndarray:
        """Per-sweep noise variance σ̂² from the residual outside the column space; (N,)."""
        if self.noise_sigma is not None:
            return np.full(Y.shape[0], float(self.noise_sigma) ** 2)
        z = Y @ self.complement
        return np.mean(z * z, axis=1)

    def solve(self, Y: np.ndarray, out: np.ndarray) -> None:
        target = self.tau * Y.shape[1] * self.noise_variance(Y)
        nnls_batch(self.dictionary, Y, residual_target=target, max_active=self.max_lines, out=out)


class Elastic:
    """Non-negative elastic net: ½‖Ax − y‖² + ½β‖x‖² + α Σx, x ≥ 0.

    α = ``l1`` × max_j (Aᵀy)_j per sweep (a fraction of the smallest α that zeroes x),
    β = ``l2`` × max_j ‖a_j‖², so both are scale-free.
    """

    def __init__(self, cal: Calibration, *, l1: float = 0.002, l2: float = 1e-4):
        if l1 < 0 or l2 < 0:
            raise ValueError(f"l1 and l2 must be >= 0, got l1={l1}, l2={l2}")
        self.dictionary = Dictionary(cal.matrix.T)
        self.l1, self.beta = float(l1), float(l2) * self.dictionary.colnorm**2

    def solve(self, Y: np.ndarray, out: np.ndarray) -> None:
        alpha = self.l1 * np.clip((Y @ self.dictionary.A).max(axis=1), 0.0, None)
        nnls_batch(self.dictionary, Y, alpha=alpha, beta=self.beta, out=out)


def _gcv_pick(beta_coef: np.ndarray, resid_perp2: np.ndarray, filters: np.ndarray, m: int) -> np.ndarray:
    """Index of the GCV-optimal filter per sweep.

    beta_coef: (N, k) data in the singular basis; filters: (L, k) filter factors per candidate;
    resid_perp2: (N,) energy outside the basis. GCV = ‖r‖² / (m − Σf)².
    """
    r2 = np.einsum("nk,lk->nl", beta_coef**2, (1.0 - filters) ** 2) + resid_perp2[:, None]
    dof = m - filters.sum(axis=1)
    return np.argmin(r2 / np.maximum(dof, 1e-12)[None, :] ** 2, axis=1)


class Tikhonov:
    """Ridge regression over all columns, λ per sweep by GCV over ``n_lambda`` log-spaced values."""

    def __init__(self, cal: Calibration, *, n_lambda: int = 60):
        A = cal.matrix.T.astype(np.float64)
        self.U, self.s, self.Vt = np.linalg.svd(A, full_matrices=False)
        s2 = self.s**2
        self.lams = s2[0] * np.logspace(-14, 0, int(n_lambda))
        self.filters = s2[None, :] / (s2[None, :] + self.lams[:, None])  # (L, k)

    def solve(self, Y: np.ndarray, out: np.ndarray) -> None:
        b = Y @ self.U
        perp = np.maximum(np.einsum("nm,nm->n", Y, Y) - np.einsum("nk,nk->n", b, b), 0.0)
        pick = _gcv_pick(b, perp, self.filters, Y.shape[1])
        gain = self.filters[pick] / self.s[None, :]  # s/(s²+λ)
        out[...] = (b * gain) @ self.Vt


class _PSplineBasis:
    """Cubic B-splines every ``knot_nm`` with a second-difference penalty, and its GCV hats."""

    def __init__(self, cal: Calibration, knot_nm: float, n_mu: int):
        lam = cal.wavelength_nm
        inner = np.arange(lam[0], lam[-1] + knot_nm, knot_nm)
        t = np.r_[[inner[0]] * 3, inner, [inner[-1]] * 3]
        self.B = BSpline.design_matrix(np.clip(lam, inner[0], inner[-1]), t, 3).toarray()  # (W, K) ≥ 0
        self.M = cal.matrix.T.astype(np.float64) @ self.B  # (V, K)
        K = self.B.shape[1]
        self.D2 = np.diff(np.eye(K), n=2, axis=0)  # (K−2, K)
        MtM, DtD = self.M.T @ self.M, self.D2.T @ self.D2
        scale = np.trace(MtM) / np.trace(DtD)
        self.mus = scale * np.logspace(-9, 1, int(n_mu))
        # Hat matrices H_μ = M (MᵀM + μDᵀD)⁻¹ Mᵀ, one per candidate μ: (L, V, V).
        self.hats = np.stack([self.M @ np.linalg.solve(MtM + mu * DtD, self.M.T) for mu in self.mus])

    def dictionary(self, i: int) -> Dictionary:
        return Dictionary(np.vstack([self.M, np.sqrt(self.mus[i]) * self.D2]))


class Smooth:
    """Non-negative P-spline for dense spectra.

    x = Bθ with cubic B-splines B ≥ 0 and θ ≥ 0 (so x ≥ 0), penalty μ‖D²θ‖². The knot
    spacing (from ``knots_nm``) and μ (``n_mu`` log-spaced values) are chosen per sweep by
    generalised cross-validation of the unconstrained fit; the non-negative fit then uses them.
    """

    def __init__(self, cal: Calibration, *, knots_nm: tuple[float, ...] = (1.0, 2.0, 4.0), n_mu: int = 25):
        knots = tuple(float(k) for k in np.atleast_1d(knots_nm))
        if not knots or min(knots) <= 0:
            raise ValueError(f"knots_nm must be positive spacings in nm, got {knots_nm}")
        self.bases = [_PSplineBasis(cal, k, n_mu) for k in knots]
        self.hats = np.concatenate([b.hats for b in self.bases])  # (L_total, V, V)
        self.owner = [(bi, i) for bi, b in enumerate(self.bases) for i in range(len(b.mus))]
        self._dicts: dict[int, Dictionary] = {}

    def solve(self, Y: np.ndarray, out: np.ndarray) -> None:
        m = Y.shape[1]
        resid = Y[:, None, :] - np.einsum("lvw,nw->nlv", self.hats, Y)  # (N, L, V)
        dof = m - np.trace(self.hats, axis1=1, axis2=2)
        pick = np.argmin(np.sum(resid**2, axis=2) / dof[None, :] ** 2, axis=1)
        for p in np.unique(pick):
            bi, i = self.owner[p]
            basis = self.bases[bi]
            if p not in self._dicts:
                self._dicts[p] = basis.dictionary(i)
            rows = np.flatnonzero(pick == p)
            y_aug = np.hstack([Y[rows], np.zeros((rows.size, basis.D2.shape[0]))])
            out[rows] = nnls_batch(self._dicts[p], y_aug) @ basis.B.T


class Pairs:
    """Maximum-likelihood two-line search: the yardstick for two-line resolution.

    Locates the ``window``-row window holding most of the NNLS solution's mass, then tries
    every single row and every pair of rows in it (non-negative amplitudes) and keeps the
    best fit. Under white Gaussian noise this is the maximum-likelihood estimate of a
    spectrum of at most two lines in the window — no denoiser or solver can resolve two
    lines reliably where this does not.
    """

    def __init__(self, cal: Calibration, *, window: int = 101):
        self.nnls = NNLS(cal)
        self.window = int(window)
        W = cal.n_wavelengths
        if not 2 <= self.window <= W:
            raise ValueError(f"window must be between 2 and {W} rows, got {window}")
        i, j = np.triu_indices(self.window, k=1)
        self.pi, self.pj = i, j

    def solve(self, Y: np.ndarray, out: np.ndarray) -> None:
        D = self.nnls.dictionary
        win = self.window
        x0 = nnls_batch(D, Y)
        mass = np.cumsum(np.pad(x0, ((0, 0), (1, 0))), axis=1)
        start = np.argmax(mass[:, win:] - mass[:, :-win], axis=1)  # (N,)
        out[...] = 0.0
        C = Y @ D.A
        pi, pj = self.pi, self.pj
        for r in range(Y.shape[0]):
            s = start[r]
            c = C[r, s:s + win]
            G = D.gram[s:s + win, s:s + win]
            gd = np.diag(G)
            single = np.where(c > 0, c * c / gd, 0.0)
            ci, cj, gii, gjj, gij = c[pi], c[pj], gd[pi], gd[pj], G[pi, pj]
            det = gii * gjj - gij * gij
            with np.errstate(divide="ignore", invalid="ignore"):
                zi = (gjj * ci - gij * cj) / det
                zj = (gii * cj - gij * ci) / det
            ok = (det > 1e-12 * gii * gjj) & (zi > 0) & (zj > 0)
            red = np.where(ok, ci * zi + cj * zj, -np.inf)  # decrease of ‖Ax − y‖²
            best_pair = int(np.argmax(red))
            best_single = int(np.argmax(single))
            if red[best_pair] > single[best_single]:
                out[r, s + pi[best_pair]] = zi[best_pair]
                out[r, s + pj[best_pair]] = zj[best_pair]
            elif single[best_single] > 0:
                out[r, s + best_single] = c[best_single] / gd[best_single]


METHODS: dict[str, type] = {
    "nnls": NNLS,
    "sparse": Sparse,
    "elastic": Elastic,
    "tikhonov": Tikhonov,
    "smooth": Smooth,
    "pairs": Pairs,
}
DEFAULT_METHOD = "nnls"


def method_options(method: str) -> list[str]:
    sig = inspect.signature(METHODS[method].__init__)
    return [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]


class Reconstructor:
    """Reconstruct spectra with one calibration and one method; reusable across batches.

    >>> rec = Reconstructor(cal, "nnls")
    >>> spectra = rec(interferograms)       # (N, V) → (N, W), same float dtype as the input
    """

    def __init__(self, cal: Calibration, method: str = DEFAULT_METHOD, **options):
        if method not in METHODS:
            raise ValueError(f"unknown reconstruction method {method!r}; valid methods: {', '.join(METHODS)}")
        valid = method_options(method)
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ValueError(f"method {method!r} has no option(s) {unknown}; valid options: {valid or 'none'}")
        self.calibration = cal
        self.method = method
        self.options = dict(options)
        self._impl = METHODS[method](cal, **options)

    def __call__(self, interferograms: np.ndarray) -> np.ndarray:
        Y = np.asarray(interferograms)
        if Y.ndim == 1:
            return self(Y[None, :])[0]
        v = self.calibration.n_voltages
        if Y.ndim != 2 or Y.shape[1] != v:
            raise DataError(f"interferograms must have shape (N, {v}) to match the calibration's {v} voltages, got {Y.shape}")
        if not np.issubdtype(Y.dtype, np.floating) and not np.issubdtype(Y.dtype, np.integer):
            raise DataError(f"interferograms must be numeric, got dtype {Y.dtype}")
        bad = ~np.isfinite(Y)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            raise DataError(f"{rows.size} interferogram(s) contain NaN/Inf (first at row {int(rows[0])})")
        out_dtype = Y.dtype if np.issubdtype(Y.dtype, np.floating) else np.float64
        Y = Y.astype(np.float64) - self.calibration.dark[None, :]
        out = np.empty((Y.shape[0], self.calibration.n_wavelengths), dtype=out_dtype)
        for start in range(0, Y.shape[0], CHUNK):
            self._impl.solve(Y[start:start + CHUNK], out[start:start + CHUNK])
        return out


def reconstruct(interferograms: np.ndarray, cal: Calibration, method: str = DEFAULT_METHOD, **options) -> np.ndarray:
    """One-shot convenience: ``Reconstructor(cal, method, **options)(interferograms)``."""
    return Reconstructor(cal, method, **options)(interferograms)
