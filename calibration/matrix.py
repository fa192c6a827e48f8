"""The calibration matrix P (wavelengths × voltages), the paper's padded Q, and the
:class:`Calibration` container with its validation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from calibration import physics
from calibration.errors import CalibrationError
from calibration.physics import DeviceParams

Q_PAD_ROWS = 100  # the paper: Q = P with its first 100 rows appended
MIN_RANK_FRACTION = 0.5  # a usable matrix spans at least half of the voltage space
RANK_RTOL = 1e-6  # singular values below this × the largest count as zero


def padded_q(matrix: np.ndarray, pad: int = Q_PAD_ROWS) -> np.ndarray:
    """Q = P with its first ``pad`` rows appended at the end: (W, V) → (W + pad, V).

    Every window of ``pad + 1`` consecutive rows starting at any row i < W then exists.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] < pad:
        raise CalibrationError(f"need a 2-D matrix with at least {pad} rows, got shape {matrix.shape}")
    return np.concatenate([matrix, matrix[:pad]], axis=0)


def numerical_rank(matrix: np.ndarray, rtol: float = RANK_RTOL) -> int:
    s = np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def content_id(matrix: np.ndarray, wavelength_nm: np.ndarray, voltage_v: np.ndarray, dark: np.ndarray) -> str:
    """calibration_id: SHA-256 of the canonical little-endian bytes, first 16 hex digits."""
    h = hashlib.sha256()
    for arr, dt in ((matrix, "<f4"), (wavelength_nm, "<f8"), (voltage_v, "<f8"), (dark, "<f8")):
        h.update(np.ascontiguousarray(arr, dtype=dt).tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Calibration:
    """A device's calibration: P (W × V, rows = wavelengths), its axes and dark level.

    ``matrix`` holds the dark-subtracted detector signal per unit optical power at each
    wavelength (float32 as stored); ``dark`` (V,) is the detector reading without light,
    subtracted from interferograms before reconstruction.
    """

    matrix: np.ndarray  # (W, V) float32
    wavelength_nm: np.ndarray  # (W,) float64, strictly increasing
    voltage_v: np.ndarray  # (V,) float64
    dark: np.ndarray  # (V,) float64
    device: str = "unknown"
    created: str = ""
    source: str = ""
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "matrix", np.ascontiguousarray(self.matrix, dtype=np.float32))
        for name in ("wavelength_nm", "voltage_v", "dark"):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.float64))
        validate(self.matrix, self.wavelength_nm, self.voltage_v, self.dark)

    @property
    def calibration_id(self) -> str:
        return content_id(self.matrix, self.wavelength_nm, self.voltage_v, self.dark)

    @property
    def n_wavelengths(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_voltages(self) -> int:
        return self.matrix.shape[1]

    def q(self) -> np.ndarray:
        return padded_q(self.matrix)


def validate(matrix: np.ndarray, wavelength_nm: np.ndarray, voltage_v: np.ndarray, dark: np.ndarray) -> None:
    """Raise :class:`CalibrationError` saying exactly what is wrong with a calibration."""
    if matrix.ndim != 2:
        raise CalibrationError(f"calibration matrix must be 2-D (wavelengths × voltages), got shape {matrix.shape}")
    w, v = matrix.shape
    if wavelength_nm.shape != (w,):
        raise CalibrationError(f"wavelength_nm has shape {wavelength_nm.shape}, expected ({w},) to match the matrix's {w} rows")
    if voltage_v.shape != (v,):
        raise CalibrationError(f"voltage_v has shape {voltage_v.shape}, expected ({v},) to match the matrix's {v} columns")
    if dark.shape != (v,):
        raise CalibrationError(f"dark has shape {dark.shape}, expected ({v},)")
    if w <= v:
        raise CalibrationError(f"calibration matrix has {w} wavelength rows and {v} voltage columns; rows = wavelengths must outnumber voltages (transposed?)")
    for name, arr in (("matrix", matrix), ("wavelength_nm", wavelength_nm), ("voltage_v", voltage_v), ("dark", dark)):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise CalibrationError(f"{name} holds {int(bad.sum())} non-finite value(s) (NaN/Inf), first at index {first}")
    steps = np.diff(wavelength_nm)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise CalibrationError(
            f"wavelength_nm must be strictly increasing, but [{i}]={wavelength_nm[i]:g} nm is followed by [{i + 1}]={wavelength_nm[i + 1]:g} nm"
        )
    rank = numerical_rank(matrix)
    need = int(np.ceil(MIN_RANK_FRACTION * v))
    if rank < need:
        raise CalibrationError(
            f"calibration matrix has numerical rank {rank} but at least {need} of {v} is needed to reconstruct spectra "
            "(a plain MZI with a few-π phase shifter gives 3-5)"
        )


def simulated_calibration(params: DeviceParams, device: str, created: str) -> Calibration:
    """The ideal (noise-free) calibration of a simulated device."""
    return Calibration(
        matrix=physics.ideal_matrix(params),
        wavelength_nm=params.wavelengths_nm(),
        voltage_v=params.voltages_v(),
        dark=np.full(params.n_voltages, params.dark_offset),
        device=device,
        created=created,
        source="simulated",
        attrs={"device_params": params.to_dict()},
    )
