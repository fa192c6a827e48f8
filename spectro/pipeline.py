"""File-level jobs: reconstruct a recording into a new file; simulate a recording.

Each is one function over library calls; the CLI is a thin layer over these.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from calibration.errors import CalibrationError, DataError
from calibration.fileio import atomic_output
from calibration.forward import simulate
from calibration.matrix import Calibration
from calibration.noise import NoiseModel
from calibration.physics import DeviceParams
from spectro.anomaly import FaultDetector
from spectro.denoiser import Denoiser
from spectro.guard import DEFAULT_THRESHOLD, NoiseGuard
from spectro.reconstruct import Reconstructor
from spectro.recording import READ_CHUNK, RecordingReader, RecordingWriter


@dataclass(frozen=True)
class ReconstructSummary:
    input: str
    output: str
    sweeps: int
    seconds: float
    method: str
    calibration_id: str

    @property
    def rate(self) -> float:
        return self.sweeps / self.seconds if self.seconds > 0 else float("inf")


def check_compatible(rec: RecordingReader, cal: Calibration) -> None:
    """A recording can be reconstructed with a calibration only if their voltages agree."""
    if rec.n_voltages != cal.n_voltages:
        raise DataError(f"{rec.path} has {rec.n_voltages} voltages per sweep but the calibration has {cal.n_voltages}; wrong calibration for this device?")
    volts = rec.voltage_v
    if volts is not None and (volts.shape != cal.voltage_v.shape or not np.allclose(volts, cal.voltage_v, rtol=1e-6, atol=1e-9)):
        raise DataError(f"{rec.path}: its voltage table differs from the calibration's (max difference {np.max(np.abs(volts - cal.voltage_v)):.3g} V)")


def reconstruct_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    cal: Calibration,
    *,
    method: str = "nnls",
    options: dict | None = None,
    overwrite: bool = False,
    chunk: int = READ_CHUNK,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    denoiser: Denoiser | None = None,
    guard_threshold: float | None = DEFAULT_THRESHOLD,
    detector: FaultDetector | None = None,
) -> ReconstructSummary:
    """Stream a recording's interferograms through reconstruction into a new recording.

    With a ``denoiser`` (:class:`spectro.denoiser.Denoiser`) each slab is denoised first —
    sweeps the noise guard rejects keep their raw interferogram (``guard_threshold=None``:
    no guard) — and the output also holds ``denoised`` and ``denoise_bypassed`` per sweep.
    With a ``detector`` (:class:`spectro.anomaly.FaultDetector`) every raw sweep also gets
    ``anomaly_score``, ``anomaly_flag`` and ``fault_class``.

    The output holds the raw sweeps (copied), the spectra and provenance. It is written to a
    temporary file and moved into place only on success, so a failure leaves nothing behind
    and an existing output is never replaced unless ``overwrite``.
    """
    t0 = time.perf_counter()
    recon = Reconstructor(cal, method, **(options or {}))
    check_models(cal, denoiser, detector)
    guard = NoiseGuard(cal, guard_threshold) if denoiser is not None and guard_threshold is not None else None
    columns = sweep_columns(cal.n_voltages, denoiser is not None, detector is not None)
    with RecordingReader(input_path) as rec:
        check_compatible(rec, cal)
        if on_start:
            on_start(rec.n_sweeps)
        with atomic_output(output_path, overwrite) as tmp:
            with RecordingWriter(
                tmp, n_voltages=rec.n_voltages, voltage_v=cal.voltage_v, wavelength_nm=cal.wavelength_nm,
                ifg_dtype=rec.interferogram.dtype, entry_attrs={k: v for k, v in rec.attrs().items() if k not in ("NX_class", "default")},
                columns=columns,
            ) as out:
                for start, ifg, seq in rec.iter_chunks(chunk):
                    bad = ~np.isfinite(ifg)
                    if bad.any():
                        row = start + int(np.flatnonzero(bad.any(axis=1))[0])
                        raise DataError(f"{rec.path}: sweep {row} of /entry/sweeps/interferogram contains NaN/Inf")
                    extra = {}
                    if denoiser is None:
                        den = ifg.astype(np.float64)
                    else:
                        den, bypassed = denoise_slab(denoiser, guard, ifg)
                        extra |= {"denoised": den.astype(np.float32), "denoise_bypassed": bypassed.astype(np.uint8)}
                    if detector is not None:
                        extra |= detect_slab(detector, ifg)
                    out.append(ifg, seq, recon(den), **extra)
                    if on_progress:
                        on_progress(len(ifg))
                truth = rec.truth()
                if truth is not None:
                    out.add_truth(*truth)
                out.add_process(
                    method=method, options=repr(recon.options), calibration_id=cal.calibration_id,
                    calibration_device=cal.device, input_file=os.path.abspath(rec.path),
                    model=os.path.abspath(denoiser.path) if denoiser else "none", model_sha256=denoiser.model_hash if denoiser else "",
                    guard_threshold=float(guard.threshold) if guard else -1.0,
                    detector=os.path.abspath(detector.path) if detector else "none", detector_sha256=detector.model_hash if detector else "",
                    fault_classes=json.dumps(detector.classes) if detector else "[]",
                )
        n = rec.n_sweeps
    return ReconstructSummary(os.fspath(input_path), os.fspath(output_path), n, time.perf_counter() - t0, method, cal.calibration_id)


def denoise_slab(denoiser: Denoiser, guard: NoiseGuard | None, ifg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(interferograms to reconstruct (n, V) float64, bypassed (n,) bool) for raw sweeps."""
    raw = np.asarray(ifg, np.float64)
    den = denoiser(np.ascontiguousarray(ifg, dtype=np.float32)).astype(np.float64)
    if guard is None:
        return den, np.zeros(len(raw), bool)
    return guard(raw, den)


def check_models(cal: Calibration, *models) -> None:
    """Each model (denoiser, detector; None skipped) must be for ``cal`` unless forced."""
    for m in models:
        if m is not None and m.calibration_id != cal.calibration_id and not m.forced:
            raise CalibrationError(f"{m.WHAT} {m.path.name} was trained for calibration {m.calibration_id}, not {cal.calibration_id}")


def sweep_columns(n_voltages: int, denoised: bool, detected: bool) -> dict[str, tuple]:
    """The optional per-sweep datasets a reconstruction or acquisition writes."""
    cols: dict[str, tuple] = {}
    if denoised:
        cols |= {"denoised": (np.float32, n_voltages), "denoise_bypassed": (np.uint8, None)}
    if detected:
        cols |= {"anomaly_score": (np.float32, None), "anomaly_flag": (np.uint8, None), "fault_class": (np.int8, None)}
    return cols


def detect_slab(detector: FaultDetector, ifg: np.ndarray) -> dict[str, np.ndarray]:
    score, flagged, fault = detector(np.ascontiguousarray(ifg, dtype=np.float32))
    return {"anomaly_score": score, "anomaly_flag": flagged.astype(np.uint8), "fault_class": fault}


def simulate_recording(
    output_path: str | os.PathLike,
    params: DeviceParams,
    spectrum: np.ndarray,
    *,
    count: int,
    noise: NoiseModel,
    seed: int = 0,
    lines_nm: np.ndarray | None = None,
    overwrite: bool = False,
    chunk: int = 1024,
) -> None:
    """Write a recording of ``count`` sweeps of one source spectrum through the physics model."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    spectrum = np.asarray(spectrum, np.float64)
    rng = np.random.default_rng(seed)
    with atomic_output(output_path, overwrite) as tmp:
        with RecordingWriter(tmp, n_voltages=params.n_voltages, voltage_v=params.voltages_v(), entry_attrs={"simulated": True, "seed": seed}) as out:
            for start in range(0, count, chunk):
                n = min(chunk, count - start)
                idx = np.arange(start, start + n)
                _, noisy = simulate(params, np.repeat(spectrum[None, :], n, axis=0), noise, rng, sweep_index=idx)
                out.append(noisy.astype(np.float32), idx)
            out.add_truth(params.wavelengths_nm(), spectrum, lines_nm)
