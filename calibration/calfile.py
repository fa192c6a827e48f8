"""The calibration file (HDF5), owned here: layout, dtypes, attributes, validation.

Layout (schema_version 1), all at the file root:

    matrix          (W, V) float32   dark-subtracted detector signal per unit power; rows = wavelengths
    wavelength_nm   (W,)   float64   @units = "nm", strictly increasing
    voltage_v       (V,)   float64   @units = "V"
    dark            (V,)   float64   detector reading without light (optional on read: zeros)
    @calibration_id  16 hex digits, SHA-256 of the content (checked on load)
    @device, @created (ISO 8601), @schema_version, @source, @device_params (JSON, simulated only)
"""

from __future__ import annotations

import json
import os

import h5py
import numpy as np

from calibration.errors import CalibrationError
from calibration.fileio import atomic_output
from calibration.matrix import Calibration, content_id

SCHEMA_VERSION = 1
REQUIRED = ("matrix", "wavelength_nm", "voltage_v")


def save(cal: Calibration, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ``cal`` to ``path`` atomically; refuses to replace an existing file unless asked."""
    with atomic_output(path, overwrite) as tmp, h5py.File(tmp, "w-") as f:
        f.create_dataset("matrix", data=cal.matrix, compression="gzip", shuffle=True)
        f.create_dataset("wavelength_nm", data=cal.wavelength_nm).attrs["units"] = "nm"
        f.create_dataset("voltage_v", data=cal.voltage_v).attrs["units"] = "V"
        f.create_dataset("dark", data=cal.dark)
        f.attrs["calibration_id"] = cal.calibration_id
        f.attrs["device"] = cal.device
        f.attrs["created"] = cal.created
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["source"] = cal.source
        for key, value in cal.attrs.items():
            f.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def load(path: str | os.PathLike) -> Calibration:
    """Read and validate a calibration file; every problem is one :class:`CalibrationError`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CalibrationError(f"calibration file {path} does not exist")
    if not h5py.is_hdf5(path):
        raise CalibrationError(f"{path} is not an HDF5 file (expected a calibration written by 'spectro calibrate')")
    try:
        with h5py.File(path, "r") as f:
            missing = [name for name in REQUIRED if name not in f or not isinstance(f[name], h5py.Dataset)]
            if missing:
                raise CalibrationError(f"{path}: missing dataset(s) {missing}; a calibration file needs {list(REQUIRED)} at its root")
            version = int(f.attrs.get("schema_version", SCHEMA_VERSION))
            if version > SCHEMA_VERSION:
                raise CalibrationError(f"{path}: schema_version {version} is newer than this toolkit reads ({SCHEMA_VERSION}); upgrade spectro")
            matrix = f["matrix"][()]
            wl = f["wavelength_nm"][()]
            volts = f["voltage_v"][()]
            dark = f["dark"][()] if "dark" in f else np.zeros(volts.shape[-1] if volts.ndim else 0)
            attrs = {k: _str(v) if isinstance(v, (bytes, str)) else v for k, v in f.attrs.items()}
    except CalibrationError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise CalibrationError(f"{path}: unreadable calibration file ({exc})") from exc
    for name, arr in (("matrix", matrix), ("wavelength_nm", wl), ("voltage_v", volts), ("dark", dark)):
        if not np.issubdtype(np.asarray(arr).dtype, np.number):
            raise CalibrationError(f"{path}: dataset {name} is not numeric (dtype {np.asarray(arr).dtype})")
    try:
        cal = Calibration(
            matrix=matrix, wavelength_nm=wl, voltage_v=volts, dark=dark,
            device=attrs.pop("device", "unknown"), created=attrs.pop("created", ""), source=attrs.pop("source", ""),
            attrs={k: v for k, v in attrs.items() if k not in ("calibration_id", "schema_version")},
        )
    except CalibrationError as exc:
        raise CalibrationError(f"{path}: {exc}") from None
    stored = attrs.get("calibration_id")
    if stored is not None and stored != cal.calibration_id:
        raise CalibrationError(
            f"{path}: stored calibration_id {stored} does not match its content ({cal.calibration_id}); the file was modified or corrupted"
        )
    return cal


def device_params(cal: Calibration) -> dict | None:
    """The physics parameters of a simulated calibration, or None for a measured one."""
    raw = cal.attrs.get("device_params")
    return json.loads(raw) if isinstance(raw, str) else raw


__all__ = ["SCHEMA_VERSION", "save", "load", "device_params", "content_id"]
