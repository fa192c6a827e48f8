"""Noise: the paper's SNR definition, white Gaussian noise at a target SNR, and the
switchable physical noise terms of the interferometer (see docs/physics.md, "Noise").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.config import StrictConfig
from calibration.errors import DataError


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    """SNR = 10·log10(Σ I1² / Σ (I2 − I1)²) over the last axis (the paper's definition).

    I1 is the noise-free interferogram *including* its DC level, I2 the noisy one.
    Shapes (..., V) → (...); +inf where the two are identical.
    """
    clean = np.asarray(clean, dtype=np.float64)
    err = np.asarray(noisy, dtype=np.float64) - clean
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.sum(clean**2, axis=-1) / np.sum(err**2, axis=-1))


def white_noise_sigma(clean: np.ndarray, snr: float | np.ndarray) -> np.ndarray:
    """Per-sample σ of white Gaussian noise that gives ``snr`` dB in expectation; shape (..., 1)."""
    clean = np.asarray(clean, dtype=np.float64)
    power = np.mean(clean**2, axis=-1, keepdims=True)
    snr = np.asarray(snr, dtype=np.float64)
    if snr.ndim:
        snr = snr[..., None]
    return np.sqrt(power / 10.0 ** (snr / 10.0))


def add_white_noise(clean: np.ndarray, snr: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``clean`` plus white Gaussian noise at ``snr`` dB per interferogram (paper's definition).

    ``snr`` is a scalar or one value per interferogram. Returns float64, same shape.
    """
    clean = np.asarray(clean, dtype=np.float64)
    if not np.all(np.isfinite(clean)):
        raise DataError("cannot add noise to non-finite interferograms")
    return clean + rng.standard_normal(clean.shape) * white_noise_sigma(clean, snr)


@dataclass(frozen=True)
class NoiseModel(StrictConfig):
    """Switchable noise terms of the simulated instrument. Every term is off at its default.

    Units: interferogram values are detector signal for unit optical power (the matrix's units).
    """

    _kind = "noise term"

    white_snr_db: float | None = None  # the paper's white Gaussian noise, per sweep SNR
    shot_electrons: float | None = None  # electrons per unit signal: σ² = I / shot_electrons
    intensity_sigma: float = 0.0  # source power fluctuation, per sweep, relative
    intensity_walk: float = 0.0  # source power random walk, per voltage step, relative
    voltage_jitter_v: float = 0.0  # actuation voltage error, per step, V
    opd_jitter_nm: float = 0.0  # vibration: OPD error, per step, nm
    drift_amplitude_nm: float = 0.0  # slow thermal OPD drift across sweeps, nm
    drift_period_sweeps: float = 500.0
    adc_bits: int | None = None  # quantise to this many bits ...
    adc_full_scale: float = 2.0  # ... over [0, adc_full_scale)
    mismatch_opd_scale: float = 0.0  # true ΔOPD_max = stored × (1 + this): calibration mismatch
    mismatch_phase_rad: float = 0.0  # true φ0 = stored + this


    @property
    def perturbs_response(self) -> bool:
        """True when a sweep sees a different device response than the stored one."""
        return bool(self.voltage_jitter_v or self.opd_jitter_nm or self.drift_amplitude_nm)


#: A realistic mix for the reference device, used by ``--noise realistic``.
REALISTIC = NoiseModel(
    shot_electrons=2e6,
    intensity_sigma=0.005,
    intensity_walk=0.001,
    voltage_jitter_v=0.0002,
    opd_jitter_nm=2.0,
    drift_amplitude_nm=2.0,
    adc_bits=16,
)
