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


SOURCE_KINDS = ("lines", "lamp", "led", "absorption", "file")


def parse_source(spec: str, wavelength_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Build a source from a short text spec; returns (spectrum (W,), line centres or None).

    * ``lines:1520,1550.5@0.8,1551.7`` — lines at nm, optional ``@amplitude`` (default 1)
    * ``lamp`` or ``lamp:TEMPERATURE_K`` — tungsten-halogen lamp, total power 20
    * ``led:CENTER_NM,FWHM_NM`` — Gaussian LED, total power 20
    * ``absorption`` — the lamp through three absorption bands
    * ``file:PATH`` — two columns (wavelength nm, power), comma- or space-separated,
      interpolated onto the grid (zero outside)
    """
    wl = np.asarray(wavelength_nm, float)
    kind, _, arg = spec.partition(":")
    try:
        if kind == "lines":
            centres, amps = [], []
            for item in filter(None, arg.split(",")):
                c, _, a = item.partition("@")
                centres.append(float(c))
                amps.append(float(a) if a else 1.0)
            if not centres:
                raise ValueError("give at least one line, e.g. lines:1550,1551.2")
            return lines(wl, centres, amps), np.array(centres)
        if kind == "lamp":
            return lamp(wl, 20.0, float(arg) if arg else 2800.0), None
        if kind == "led":
            c, f = (float(x) for x in arg.split(","))
            return gaussian_band(wl, c, f, 20.0), None
        if kind == "absorption":
            return absorption(wl, lamp(wl, 20.0), [(1530.0, 6.0, 0.6), (1575.0, 10.0, 0.5), (1600.0, 3.0, 0.7)]), None
        if kind == "file":
            data = np.loadtxt(arg, delimiter="," if arg.endswith(".csv") else None, ndmin=2)
            if data.shape[1] < 2 or np.any(np.diff(data[:, 0]) <= 0) or np.any(data[:, 1] < 0):
                raise ValueError(f"{arg} must hold two columns: increasing wavelength (nm) and non-negative power")
            return np.interp(wl, data[:, 0], data[:, 1], left=0.0, right=0.0), None
    except (ValueError, OSError) as exc:
        raise ValueError(f"bad source spec {spec!r}: {exc}") from None
    raise ValueError(f"unknown source kind {kind!r}; valid: {', '.join(SOURCE_KINDS)} (e.g. lines:1550,1551.2)")
