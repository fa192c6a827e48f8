"""Forward simulation: spectra in, detector interferograms out, with the noise model.

    I(V) = Σ_λ s(λ) · P_true(λ, V) + b     (+ noise terms)

P_true is the physics model of the (possibly mismatched) device; ``s`` is optical power per
wavelength bin on the device grid.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from calibration import physics
from calibration.noise import NoiseModel, white_noise_sigma
from calibration.physics import DeviceParams


def true_device(params: DeviceParams, noise: NoiseModel) -> DeviceParams:
    """The device that really produced the light, when the stored calibration is off."""
    if not (noise.mismatch_opd_scale or noise.mismatch_phase_rad):
        return params
    return dataclasses.replace(
        params,
        opd_max_um=params.opd_max_um * (1.0 + noise.mismatch_opd_scale),
        phase0_rad=params.phase0_rad + noise.mismatch_phase_rad,
    )


def clean_interferograms(
    params: DeviceParams,
    spectra: np.ndarray,
    noise: NoiseModel = NoiseModel(),
    *,
    sweep_index: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    chunk: int = 16,
) -> np.ndarray:
    """Noise-free detector interferograms (dark offset included) for a batch of spectra.

    Response perturbations (voltage and OPD jitter, drift) are part of the device, not
    additive noise, so they are applied here: each sweep then sees its own response.

    spectra : (N, W) optical power per wavelength bin. sweep_index : (N,) for the drift phase.
    Returns (N, V) float64.
    """
    spectra = np.atleast_2d(np.asarray(spectra, dtype=np.float64))
    dev = true_device(params, noise)
    if not noise.perturbs_response:
        return spectra @ physics.response(dev, include_dark=False) + dev.dark_offset
    rng = rng or np.random.default_rng()
    n_sweeps = spectra.shape[0]
    volts = dev.voltages_v()
    lam = dev.wavelengths_nm()
    idx = np.arange(n_sweeps) if sweep_index is None else np.asarray(sweep_index)
    out = np.empty((n_sweeps, volts.size))
    for start in range(0, n_sweeps, chunk):
        sl = slice(start, min(start + chunk, n_sweeps))
        c = sl.stop - sl.start
        v = volts + noise.voltage_jitter_v * rng.standard_normal((c, volts.size))
        shift_nm = noise.opd_jitter_nm * rng.standard_normal((c, 1, volts.size))
        shift_nm = shift_nm + noise.drift_amplitude_nm * np.sin(2 * np.pi * idx[sl] / noise.drift_period_sweeps)[:, None, None]
        support = np.flatnonzero(np.any(spectra[sl] != 0, axis=0))
        resp = physics.response(dev, lam[support], v, opd_shift_um=shift_nm * 1e-3, include_dark=False)
        out[sl] = np.einsum("cs,csv->cv", spectra[sl][:, support], resp)
    return out + dev.dark_offset


def apply_noise(clean: np.ndarray, noise: NoiseModel, rng: np.random.Generator) -> np.ndarray:
    """Add the additive/multiplicative noise terms to clean interferograms (N, V) → (N, V)."""
    x = np.array(clean, dtype=np.float64, copy=True)
    n, v = x.shape
    if noise.intensity_sigma or noise.intensity_walk:
        walk = np.cumsum(noise.intensity_walk * rng.standard_normal((n, v)), axis=1)
        x *= 1.0 + noise.intensity_sigma * rng.standard_normal((n, 1)) + walk
    if noise.shot_electrons:
        x += np.sqrt(np.clip(x, 0.0, None) / noise.shot_electrons) * rng.standard_normal((n, v))
    if noise.white_snr_db is not None:
        x += white_noise_sigma(clean, noise.white_snr_db) * rng.standard_normal((n, v))
    if noise.adc_bits:
        lsb = noise.adc_full_scale / 2**noise.adc_bits
        x = np.clip(np.round(x / lsb), 0, 2**noise.adc_bits - 1) * lsb
    return x


def simulate(
    params: DeviceParams,
    spectra: np.ndarray,
    noise: NoiseModel = NoiseModel(),
    rng: np.random.Generator | None = None,
    *,
    sweep_index: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) interferograms, each (N, V) float64, for spectra (N, W)."""
    rng = rng or np.random.default_rng()
    clean = clean_interferograms(params, spectra, noise, sweep_index=sweep_index, rng=rng)
    return clean, apply_noise(clean, noise, rng)
