"""Calibration sweeps: a tunable laser stepped across the band, one or more interferograms
per wavelength, plus dark frames. This module owns the sweep file and turns it into P.

Sweep file layout (HDF5, group ``/sweep``):

    wavelength_nm   (W,)       float64  laser wavelength of each step, strictly increasing
    voltage_v       (V,)       float64  actuation voltage table
    interferogram   (W, R, V)  float     detector readings, R ≥ 1 repeats per wavelength
    laser_power     (W,) or (W, R) float reference power-meter reading (any fixed unit)
    dark            (D, V)     float     D ≥ 1 readings with the laser off
    @device, @created

Normalisation: P[w] = (mean_r interferogram[w, r] − mean_d dark) / mean_r laser_power[w],
so a row is the dark-free detector response to unit optical power at that wavelength, and a
spectrum in the same power unit per wavelength bin gives I = s · P + dark.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np

from calibration import physics
from calibration.errors import CalibrationError
from calibration.fileio import atomic_output
from calibration.matrix import Calibration
from calibration.physics import DeviceParams


@dataclass(frozen=True)
class Sweep:
    wavelength_nm: np.ndarray  # (W,)
    voltage_v: np.ndarray  # (V,)
    interferogram: np.ndarray  # (W, R, V)
    laser_power: np.ndarray  # (W,) or (W, R)
    dark: np.ndarray  # (D, V)
    device: str = "unknown"
    created: str = ""


def build_calibration(sweep: Sweep) -> Calibration:
    """Average repeats, subtract the dark level, normalise by laser power → :class:`Calibration`."""
    ifg = np.asarray(sweep.interferogram, dtype=np.float64)
    if ifg.ndim == 2:
        ifg = ifg[:, None, :]
    if ifg.ndim != 3:
        raise CalibrationError(f"sweep interferogram must be (wavelengths, repeats, voltages), got shape {ifg.shape}")
    w, _r, v = ifg.shape
    dark = np.atleast_2d(np.asarray(sweep.dark, dtype=np.float64))
    if dark.shape[-1] != v:
        raise CalibrationError(f"sweep dark frames have {dark.shape[-1]} voltages, the interferograms {v}")
    power = np.asarray(sweep.laser_power, dtype=np.float64)
    power = power.mean(axis=1) if power.ndim == 2 else power
    if power.shape != (w,):
        raise CalibrationError(f"laser_power has shape {np.shape(sweep.laser_power)}, expected ({w},) or ({w}, repeats)")
    if not np.all(np.isfinite(power)) or np.any(power <= 0):
        raise CalibrationError("laser_power must be finite and positive at every wavelength")
    dark_level = dark.mean(axis=0)
    matrix = (ifg.mean(axis=1) - dark_level) / power[:, None]
    return Calibration(
        matrix=matrix, wavelength_nm=sweep.wavelength_nm, voltage_v=sweep.voltage_v, dark=dark_level,
        device=sweep.device, created=sweep.created, source="sweep",
    )


def simulate_sweep(
    params: DeviceParams,
    *,
    repeats: int = 4,
    n_dark: int = 16,
    noise_sigma: float = 1e-3,
    power_ripple: float = 0.05,
    rng: np.random.Generator | None = None,
    device: str = "simulated",
    created: str = "",
) -> Sweep:
    """A calibration sweep of a simulated device: laser power varies, readings are noisy."""
    rng = rng or np.random.default_rng(0)
    lam = params.wavelengths_nm()
    power = 1.0 + power_ripple * np.sin(lam / 7.0)  # the laser's own power curve, measured
    resp = physics.response(params)  # (W, V), dark included
    ifg = power[:, None, None] * (resp[:, None, :] - params.dark_offset) + params.dark_offset
    ifg = ifg + noise_sigma * rng.standard_normal((lam.size, repeats, params.n_voltages))
    dark = params.dark_offset + noise_sigma * rng.standard_normal((n_dark, params.n_voltages))
    return Sweep(lam, params.voltages_v(), ifg, power, dark, device, created)


def save_sweep(sweep: Sweep, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    with atomic_output(path, overwrite) as tmp, h5py.File(tmp, "w-") as f:
        g = f.create_group("sweep")
        g.create_dataset("wavelength_nm", data=sweep.wavelength_nm).attrs["units"] = "nm"
        g.create_dataset("voltage_v", data=sweep.voltage_v).attrs["units"] = "V"
        g.create_dataset("interferogram", data=sweep.interferogram, compression="gzip", shuffle=True)
        g.create_dataset("laser_power", data=sweep.laser_power)
        g.create_dataset("dark", data=sweep.dark)
        g.attrs["device"] = sweep.device
        g.attrs["created"] = sweep.created


def load_sweep(path: str | os.PathLike) -> Sweep:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CalibrationError(f"sweep file {path} does not exist")
    if not h5py.is_hdf5(path):
        raise CalibrationError(f"{path} is not an HDF5 file (expected a calibration sweep, see docs/formats.md)")
    names = ("wavelength_nm", "voltage_v", "interferogram", "laser_power", "dark")
    try:
        with h5py.File(path, "r") as f:
            if "sweep" not in f:
                raise CalibrationError(f"{path}: no /sweep group; is this a recording rather than a calibration sweep?")
            g = f["sweep"]
            missing = [n for n in names if n not in g]
            if missing:
                raise CalibrationError(f"{path}: /sweep lacks dataset(s) {missing}")
            data = {n: g[n][()] for n in names}
            attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in g.attrs.items()}
    except CalibrationError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise CalibrationError(f"{path}: unreadable sweep file ({exc})") from exc
    return Sweep(**data, device=attrs.get("device", "unknown"), created=attrs.get("created", ""))
