"""Live acquisition (``spectro acquire``): sweeps from the device → denoise → reconstruct →
a growing HDF5 recording that other processes can read while it is written (SWMR).

A reader thread pulls sweeps from :class:`firmware_bridge.client.DeviceClient` into a
queue; the main loop takes them in small batches (at most :data:`BATCH` sweeps or
:data:`MAX_LATENCY` seconds old), denoises, reconstructs, appends and flushes at least every
``flush_interval`` seconds, so a killed process leaves a readable file holding everything up to
the last flush. The file is written in place (readers need its final name); it is created
exclusively, so an existing file is only replaced with ``overwrite``. When the run ends —
count, duration, Ctrl-C or a lost device — everything is flushed, SWMR ends and the closing
metadata (end time, sweeps lost, link outages) is added.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from calibration.errors import CalibrationError
from calibration.fileio import check_output
from calibration.matrix import Calibration
from spectro.anomaly import FaultDetector
from spectro.denoiser import Denoiser
from spectro.guard import DEFAULT_THRESHOLD, NoiseGuard
from spectro.pipeline import check_models, denoise_slab, detect_slab, sweep_columns
from spectro.reconstruct import Reconstructor
from spectro.recording import RecordingWriter, now_iso

BATCH = 64  # sweeps processed together (one ONNX call, one NNLS batch)
MAX_LATENCY = 0.2  # s: a sweep waits at most this long for its batch


@dataclass
class LiveState:
    """What the live view and the status line show; updated after every batch."""

    sweeps: int = 0
    lost: int = 0
    bypassed: int = 0
    rate: float = 0.0  # sweeps/s over the last few seconds
    snr_db: float = float("nan")  # estimated from the sweep's energy outside the matrix's span
    peaks_nm: list[float] = field(default_factory=list)  # strongest lines of the latest spectrum
    raw: np.ndarray | None = None  # latest raw interferogram (V,)
    denoised: np.ndarray | None = None
    spectrum: np.ndarray | None = None  # latest spectrum (W,)
    outages: int = 0
    flagged: int = 0  # sweeps the fault detector flagged

    def status_line(self) -> str:
        peaks = ", ".join(f"{p:.1f}" for p in self.peaks_nm[:4]) or "—"
        return (f"{self.sweeps} sweeps  {self.rate:6.1f}/s  lost {self.lost}  outages {self.outages}  flagged {self.flagged}  "
                f"SNR≈{self.snr_db:4.1f} dB  bypassed {self.bypassed}  peaks {peaks} nm")


@dataclass(frozen=True)
class AcquireSummary:
    path: str
    sweeps: int
    lost: int
    outages: int
    bypassed: int
    flagged: int
    seconds: float
    start: str
    end: str


def check_device(identity, cal: Calibration) -> None:
    """The calibration must be for this device's voltage table."""
    volts = np.asarray(identity.voltages_v, np.float64)
    if volts.shape != cal.voltage_v.shape or not np.allclose(volts, cal.voltage_v, rtol=1e-6, atol=1e-6):
        detail = (f"{len(volts)} voltages" if volts.shape != cal.voltage_v.shape
                  else f"max difference {np.max(np.abs(volts - cal.voltage_v)):.3g} V")
        raise CalibrationError(f"the device's voltage table differs from the calibration's ({detail}); wrong calibration for device {identity.serial}?")


class _Reader(threading.Thread):
    """Iterates the client's sweeps into a queue; an exception is queued too."""

    def __init__(self, client, count: int | None, duration: float | None):
        super().__init__(daemon=True, name="spectro-acquire-reader")
        self.client, self.count, self.duration = client, count, duration
        self.queue: queue.Queue = queue.Queue(maxsize=100_000)
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for rec in self.client.sweeps(count=self.count, duration=self.duration):
                self.queue.put(rec)
                if self.stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the main loop
            self.queue.put(exc)
        finally:
            self.queue.put(None)  # end of stream


def _peaks(spectrum: np.ndarray, wavelength_nm: np.ndarray, n: int = 4) -> list[float]:
    from spectro.metrics import local_maxima

    idx = local_maxima(spectrum)
    if idx.size == 0:
        return []
    idx = idx[spectrum[idx] >= 0.2 * spectrum[idx].max()]
    return [float(wavelength_nm[i]) for i in idx[np.argsort(spectrum[idx])[::-1][:n]]]


def acquire(
    client,
    out: str | os.PathLike,
    cal: Calibration,
    *,
    denoiser: Denoiser | None = None,
    guard_threshold: float | None = DEFAULT_THRESHOLD,
    count: int | None = None,
    duration: float | None = None,
    overwrite: bool = False,
    flush_interval: float = 1.0,
    on_update: Callable[[LiveState], None] | None = None,
    stop: threading.Event | None = None,
    detector: FaultDetector | None = None,
) -> AcquireSummary:
    """Record from a connected :class:`DeviceClient` until ``count`` sweeps, ``duration``
    seconds, ``stop`` is set, or Ctrl-C. If the device is lost for good, the recording is
    finished (flushed, closing metadata) and the device's error is raised."""
    out = check_output(out, overwrite)
    if count is not None and count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be > 0 s, got {duration:g}")
    if client.identity is None:
        client.connect()
    ident = client.identity
    check_device(ident, cal)
    check_models(cal, denoiser, detector)
    recon = Reconstructor(cal, "nnls")
    guard = NoiseGuard(cal, guard_threshold if guard_threshold else DEFAULT_THRESHOLD)
    use_guard = denoiser is not None and guard_threshold is not None
    if overwrite and out.exists():
        out.unlink()
    V = cal.n_voltages
    columns = {"host_time": (np.float64, None), "device_time_us": (np.uint64, None), "status": (np.uint32, None)}
    columns |= sweep_columns(V, denoiser is not None, detector is not None)
    start_iso = now_iso()
    entry = {
        "device_serial": ident.serial, "device_firmware": ".".join(map(str, ident.firmware)), "device_protocol": ident.protocol,
        "device_url": client.url, "calibration_id": cal.calibration_id, "calibration_device": cal.device,
        "model_sha256": denoiser.model_hash if denoiser else "", "model": os.path.abspath(denoiser.path) if denoiser else "none",
        "guard_threshold": float(guard_threshold) if use_guard else -1.0, "start_time": start_iso, "method": "nnls",
        "detector_sha256": detector.model_hash if detector else "", "fault_classes": json.dumps(detector.classes) if detector else "[]",
    }
    writer = RecordingWriter(out, n_voltages=V, voltage_v=cal.voltage_v, wavelength_nm=cal.wavelength_nm, entry_attrs=entry,
                             columns=columns, swmr=True)
    state = LiveState()
    reader = _Reader(client, count, duration)
    t0 = last_flush = time.monotonic()
    recent: list[tuple[float, int]] = []
    error: BaseException | None = None
    pending: list = []

    def process(batch: list) -> None:
        raw = np.stack([r.signal for r in batch]).astype(np.float32)
        if denoiser is not None:
            den, bypassed = denoise_slab(denoiser, guard if use_guard else None, raw)
        else:
            den, bypassed = raw.astype(np.float64), np.zeros(len(raw), bool)
        spectra = recon(den)
        extra = {"host_time": np.array([r.host_time for r in batch]), "device_time_us": np.array([r.device_time_us for r in batch], np.uint64),
                 "status": np.array([r.status for r in batch], np.uint32)}
        if denoiser is not None:
            extra |= {"denoised": den.astype(np.float32), "denoise_bypassed": bypassed.astype(np.uint8)}
        if detector is not None:
            flags = detect_slab(detector, raw)
            extra |= flags
            state.flagged += int(flags["anomaly_flag"].sum())
        writer.append(raw, np.array([r.sequence for r in batch], np.int64), spectra, **extra)
        now = time.monotonic()
        recent.append((now, len(batch)))
        while recent and now - recent[0][0] > 3.0:
            recent.pop(0)
        span = max(now - recent[0][0], 1e-3) if len(recent) > 1 else max(now - t0, 1e-3)

        state.sweeps += len(batch)
        state.bypassed += int(bypassed.sum())
        state.lost, state.outages = client.stats.lost, len(client.stats.outages)
        state.rate = sum(n for _, n in recent[1:]) / span if len(recent) > 1 else len(batch) / span
        state.snr_db = float(np.median(guard.snr_db(raw)))
        state.raw, state.denoised, state.spectrum = raw[-1], den[-1], spectra[-1]
        state.peaks_nm = _peaks(spectra[-1], cal.wavelength_nm)
        if on_update:
            on_update(state)

    reader.start()
    try:
        batch_started = None
        done = False
        while not done:
            if stop is not None and stop.is_set():
                break
            try:
                item = reader.queue.get(timeout=0.05)
            except queue.Empty:
                item = ...
            if item is None:
                done = True
            elif isinstance(item, BaseException):
                error = item
                done = True
            elif item is not ...:
                pending.append(item)
                batch_started = batch_started or time.monotonic()
            now = time.monotonic()
            if pending and (done or len(pending) >= BATCH or now - batch_started >= MAX_LATENCY):
                process(pending)
                pending, batch_started = [], None
            if now - last_flush >= flush_interval:
                writer.flush()
                last_flush = now
    except KeyboardInterrupt:
        pass  # Ctrl-C: stop cleanly, keep everything
    finally:
        reader.stop.set()
        reader.join(timeout=3.0)
        while True:  # sweeps that arrived before the stop
            try:
                item = reader.queue.get_nowait()
            except queue.Empty:
                break
            if item is not None and not isinstance(item, BaseException):
                pending.append(item)
        if pending:
            process(pending)
        writer.flush()
        writer.close()
        end_iso = now_iso()
        _finish(out, client.stats, end_iso)
    if error is not None:  # the device was lost for good: the file is complete up to here
        raise error
    return AcquireSummary(os.fspath(out), state.sweeps, client.stats.lost, len(client.stats.outages), state.bypassed, state.flagged,
                          time.monotonic() - t0, start_iso, end_iso)


def _finish(path: Path, stats, end_iso: str) -> None:
    """After SWMR: the closing metadata, which SWMR forbids while the file grows."""
    with h5py.File(path, "r+") as f:
        e = f["entry"]
        e.attrs.update({"end_time": end_iso, "sweeps_lost": int(stats.lost), "bad_frames": int(stats.bad_frames),
                        "reconnects": int(stats.reconnects), "stalls": int(stats.stalls), "complete": 1})
        link = e.create_group("link")
        link.attrs["NX_class"] = "NXcollection"
        starts = [s for s, _ in stats.outages]
        link.create_dataset("outage_start", data=np.array(starts, dtype=h5py.string_dtype()) if starts else np.zeros(0, h5py.string_dtype()))
        link.create_dataset("outage_seconds", data=np.array([d for _, d in stats.outages], np.float64)).attrs["units"] = "s"
