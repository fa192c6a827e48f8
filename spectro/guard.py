"""The denoiser's guard: pass through, undenoised, sweeps the denoiser was not made for.

A denoiser trained on few-line mixtures "removes" far more than noise from a lamp, an LED or
a spectrum with many lines (docs/benchmarks.md). The guard compares the energy of the
predicted noise with the noise floor estimated from the sweep itself — its energy outside
the calibration matrix's column space, where no spectrum can put anything:

    ratio = mean(ê²) / σ̂²,   σ̂² = ‖U_⊥ᵀ (y − dark)‖² / dim U_⊥

On the training prior the ratio sits near 1 (99 % below 3.3 for the CAE); a sweep above the
threshold keeps its raw interferogram.
"""

from __future__ import annotations

import numpy as np

from calibration.matrix import Calibration
from spectro.reconstruct import complement_basis

DEFAULT_THRESHOLD = 3.0  # measured: out-of-prior sweeps pass through, ~2 % of in-prior ones too


class NoiseGuard:
    def __init__(self, cal: Calibration, threshold: float = DEFAULT_THRESHOLD):
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        self.cal, self.threshold = cal, float(threshold)
        self.complement = complement_basis(cal.matrix.T.astype(np.float64))
        if self.complement.shape[1] < 2:
            raise ValueError("the calibration spans (almost) every voltage direction: the noise floor cannot be estimated")

    def ratio(self, raw: np.ndarray, denoised: np.ndarray) -> np.ndarray:
        """mean(ê²)/σ̂² per sweep; raw, denoised (N, V) → (N,)."""
        raw = np.asarray(raw, np.float64)
        noise = raw - np.asarray(denoised, np.float64)
        z = (raw - self.cal.dark) @ self.complement
        floor = np.maximum(np.mean(z * z, axis=1), 1e-300)
        return np.mean(noise * noise, axis=1) / floor

    def __call__(self, raw: np.ndarray, denoised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(output, passed): denoised where the ratio is within the threshold, raw elsewhere."""
        passed = self.ratio(raw, denoised) > self.threshold
        out = np.where(passed[:, None], np.asarray(raw, np.float64), np.asarray(denoised, np.float64))
        return out, passed
