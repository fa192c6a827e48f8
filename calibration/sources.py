"""Source spectra on a wavelength grid, in optical power per grid bin (the matrix's unit).

Used by simulations, the emulated device and the demo: narrow lines (lasers, gas lamps),
a broadband lamp, an LED, and an absorption spectrum (broadband light through a sample).
"""

from __future__ import annotations

import numpy as np


def lines(wavelength_nm: np.ndarray, centers_nm, amplitudes=None) -> np.ndarray:
    """Monochromatic lines, each on its nearest grid row. (W,)"""
    wl = np.asarray(wavelength_nm, float)
    centers = np.atleast_1d(np.asarray(centers_nm, float))
    amps = np.ones_like(centers) if amplitudes is None else np.atleast_1d(np.asarray(amplitudes, float))
    if amps.shape != centers.shape:
        raise ValueError(f"{centers.size} line centres but {amps.size} amplitudes")
    if np.any((centers < wl[0]) | (centers > wl[-1])):
        raise ValueError(f"line centres must lie in {wl[0]:g}–{wl[-1]:g} nm, got {centers.tolist()}")
    s = np.zeros_like(wl)
    np.add.at(s, np.abs(wl[None, :] - centers[:, None]).argmin(axis=1), amps)
    return s


def gaussian_band(wavelength_nm: np.ndarray, center_nm: float, fwhm_nm: float, total_power: float = 1.0) -> np.ndarray:
    """A Gaussian band (an LED, a broadened line) carrying ``total_power``. (W,)"""
    wl = np.asarray(wavelength_nm, float)
    sigma = fwhm_nm / (2 * np.sqrt(2 * np.log(2)))
    g = np.exp(-0.5 * ((wl - center_nm) / sigma) ** 2)
    return total_power * g / g.sum()


def lamp(wavelength_nm: np.ndarray, total_power: float = 1.0, temperature_k: float = 2800.0) -> np.ndarray:
    """A tungsten-halogen lamp: Planck's law across the band, normalised to ``total_power``. (W,)"""
    wl_m = np.asarray(wavelength_nm, float) * 1e-9
    hc_k = 1.438777e-2  # h·c / k_B, m·K
    b = wl_m**-5 / np.expm1(hc_k / (wl_m * temperature_k))
    return total_power * b / b.sum()


def absorption(wavelength_nm: np.ndarray, base: np.ndarray, bands: list[tuple[float, float, float]]) -> np.ndarray:
    """``base`` light through a sample with Lorentzian absorption bands (centre nm, FWHM nm, depth 0–1). (W,)"""
    wl = np.asarray(wavelength_nm, float)
    t = np.ones_like(wl)
    for center, fwhm, depth in bands:
        t *= 1.0 - depth / (1.0 + ((wl - center) / (0.5 * fwhm)) ** 2)
    return np.asarray(base, float) * t
