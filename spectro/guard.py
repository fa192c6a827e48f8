"""The denoiser's guard: pass through, undenoised, sweeps the denoiser was not made for.

A denoiser trained on few-line mixtures "removes" far more than noise from a lamp, an LED or
a spectrum with many lines (docs/benchmarks.md). The guard compares the energy of the
predicted noise with the noise floor estimated from the sweep itself — its energy outside
the calibration matrix's column space, where no spectrum can put anything:

    ratio = mean(ê²) / σ̂²,   σ̂² = ‖U_⊥ᵀ (y − dark)‖² / dim U_⊥

On the training prior the ratio sits near 1 (99 % below 3.3 for the CAE); a sweep above the
threshold keeps its raw interferogram.

Second rule: a sweep whose estimated SNR (mean(y²)/σ̂², the paper's definition) exceeds
``max_snr_db`` also keeps its raw interferogram. Denoising trades resolution for SNR, and
above ~33 dB the trade turns bad: on the reference device the CAE costs 0.3 nm of two-line
resolution at 35 dB while raw NNLS sits at the maximum-likelihood bound (docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np

from calibration.matrix import Calibration
from spectro.reconstruct import complement_basis

DEFAULT_THRESHOLD = 3.0  # measured: out-of-prior sweeps pass through, ~2 % of in-prior ones too
DEFAULT_MAX_SNR_DB = 33.0  # measured: keeps the pipeline within one 0.1 nm step of the bound at 25–35 dB


class NoiseGuard:
    def __init__(self, cal: Calibration, threshold: float = DEFAULT_THRESHOLD, max_snr_db: float | None = DEFAULT_MAX_SNR_DB):
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        self.cal, self.threshold, self.max_snr_db = cal, float(threshold), max_snr_db
        self.complement = complement_basis(cal.matrix.T.astype(np.float64))
        if self.complement.shape[1] < 2:
            raise ValueError("the calibration spans (almost) every voltage direction: the noise floor cannot be estimated")

    def floor(self, raw: np.ndarray) -> np.ndarray:
        """σ̂² per sweep: the mean energy of raw − dark outside the matrix's span; (N, V) → (N,)."""
        z = (np.asarray(raw, np.float64) - self.cal.dark) @ self.complement
        return np.maximum(np.mean(z * z, axis=1), 1e-300)

    def ratio(self, raw: np.ndarray, denoised: np.ndarray, floor: np.ndarray | None = None) -> np.ndarray:
        """mean(ê²)/σ̂² per sweep; raw, denoised (N, V) → (N,)."""
        noise = np.asarray(raw, np.float64) - np.asarray(denoised, np.float64)
        return np.mean(noise * noise, axis=1) / (self.floor(raw) if floor is None else floor)

    def snr_db(self, raw: np.ndarray, floor: np.ndarray | None = None) -> np.ndarray:
        """Estimated SNR (dB) per sweep: mean(y²) over the noise floor σ̂²; (N, V) → (N,)."""
        raw = np.asarray(raw, np.float64)
        return 10 * np.log10(np.mean(raw * raw, axis=1) / (self.floor(raw) if floor is None else floor))

    def __call__(self, raw: np.ndarray, denoised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(output, passed): denoised where the ratio is within the threshold and the SNR
        within ``max_snr_db``, raw elsewhere."""
        floor = self.floor(raw)
        passed = self.ratio(raw, denoised, floor) > self.threshold
        if self.max_snr_db is not None:
            passed |= self.snr_db(raw, floor) > self.max_snr_db
        out = np.where(passed[:, None], np.asarray(raw, np.float64), np.asarray(denoised, np.float64))
        return out, passed
