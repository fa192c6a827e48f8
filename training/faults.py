"""Faulty sweeps for the detector (the M-LDAE recipe's S3): pure functions on clean or noisy
interferograms, each drawing its own severity.

    FAULTS = ("stuck_mirror", "saturation", "loose_fibre", "voltage_glitch", "calibration_drift")

- stuck mirror: the actuator does not move, so there are no fringes: every step reads the
  level of the first step (plus the sweep's noise);
- saturation: the detector clips at 55–85 % of the sweep's maximum;
- loose fibre: 20–60 % of the light arrives and the detector's offset shifts by 3–15 % of
  the mean level (per-sweep normalisation would hide the attenuation: the detector sees the
  raw level);
- voltage glitch: 1–3 steps hit by a spike of 0.4–1.2 × the sweep's RMS;
- calibration drift: the interferometer's phase drifts by 0.3–1.2 rad (±), so the sweep no
  longer matches the calibration (simulated through the physics model).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from calibration.matrix import padded_q
from calibration.physics import DeviceParams, ideal_matrix

FAULTS = ("stuck_mirror", "saturation", "loose_fibre", "voltage_glitch", "calibration_drift")
CLASSES = ("normal", *FAULTS)


def stuck_mirror(x: np.ndarray, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return x - clean + clean[:, :1]


def saturation(x: np.ndarray, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    level = rng.uniform(0.55, 0.85, (len(x), 1)) * x.max(axis=1, keepdims=True)
    return np.minimum(x, level)


def loose_fibre(x: np.ndarray, clean: np.ndarray, rng: np.random.Generator, dark: np.ndarray | None = None) -> np.ndarray:
    d = np.zeros(x.shape[1]) if dark is None else dark
    a = rng.uniform(0.2, 0.6, (len(x), 1))
    shift = rng.uniform(0.03, 0.15, (len(x), 1)) * x.mean(axis=1, keepdims=True) * rng.choice([-1, 1], (len(x), 1))
    return d + a * (x - d) + shift


def voltage_glitch(x: np.ndarray, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = x.copy()
    rms = np.sqrt(np.mean(x**2, axis=1))
    for i in range(len(x)):
        steps = rng.choice(x.shape[1], rng.integers(1, 4), replace=False)
        out[i, steps] += rng.uniform(0.4, 1.2, len(steps)) * rms[i] * rng.choice([-1, 1], len(steps))
    return out


def calibration_drift(x: np.ndarray, rows: np.ndarray, params: DeviceParams, rng: np.random.Generator, amps: np.ndarray | None = None) -> np.ndarray:
    """x plus the change a phase drift makes to the mixtures ``rows`` (Q indices, −1 unused).
    Drifts are drawn on a 0.1 rad grid (one physics evaluation per grid value)."""
    base = padded_q(ideal_matrix(params))
    grid = np.round(np.arange(0.3, 1.21, 0.1), 2)
    deltas = rng.choice(grid, len(x)) * rng.choice([-1, 1], len(x))
    out = x.copy()
    for delta in np.unique(deltas):
        shifted = padded_q(ideal_matrix(dataclasses.replace(params, phase0_rad=params.phase0_rad + delta)))
        for i in np.flatnonzero(deltas == delta):
            r = rows[i][rows[i] >= 0]
            w = np.ones(len(r)) if amps is None else amps[i][: len(r)]
            out[i] += w @ (shifted[r] - base[r])
    return out


def inject(kind: str, noisy: np.ndarray, clean: np.ndarray, rows: np.ndarray, params: DeviceParams, dark: np.ndarray,
           rng: np.random.Generator) -> np.ndarray:
    """Sweeps with fault ``kind`` made from normal ones (noisy, clean: (n, V); rows: (n, 4))."""
    if kind == "stuck_mirror":
        return stuck_mirror(noisy, clean, rng)
    if kind == "saturation":
        return saturation(noisy, clean, rng)
    if kind == "loose_fibre":
        return loose_fibre(noisy, clean, rng, dark)
    if kind == "voltage_glitch":
        return voltage_glitch(noisy, clean, rng)
    if kind == "calibration_drift":
        return calibration_drift(noisy, rows, params, rng)
    raise ValueError(f"unknown fault {kind!r}; valid: {', '.join(FAULTS)}")
