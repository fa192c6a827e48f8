"""``spectro demo``: the whole instrument chain on an emulated device — serial link,
acquisition, denoising, reconstruction, recording — and what came out against the truth.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from calibration import reference, sources
from calibration.fileio import check_output
from calibration.noise import NoiseModel
from spectro.metrics import local_maxima, relative_l2
from spectro.recording import RecordingReader

#: Three lines inside one 5 nm calibration window (the denoiser's training prior), the
#: closest 1.3 nm apart; total power 1.4 keeps the emulated 16-bit ADC off its rail.
DEMO_SOURCE = "lines:1548.0@0.5,1549.3@0.4,1551.6@0.5"
MATCH_NM = 0.6  # a found peak within this distance counts as finding the line


def line_report(spectra: np.ndarray, wavelength_nm: np.ndarray, lines_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per true line: detection rate over sweeps and median |position error| (nm).

    Each spectrum is smoothed by 0.2 nm FWHM first, so a line split over adjacent grid rows
    counts once; peaks below 20 % of the sweep's strongest are ignored.
    """
    step = wavelength_nm[1] - wavelength_nm[0]
    hits = np.zeros((len(spectra), len(lines_nm)), dtype=bool)
    errs = np.full((len(spectra), len(lines_nm)), np.nan)
    for i, x in enumerate(gaussian_filter1d(spectra, 0.2 / step / 2.355, axis=1)):
        peaks = local_maxima(x)
        if peaks.size == 0:
            continue
        peaks = peaks[x[peaks] >= 0.2 * x[peaks].max()]
        dist = np.abs(lines_nm[:, None] - wavelength_nm[peaks][None, :]).min(axis=1)
        hits[i] = dist <= MATCH_NM
        errs[i] = np.where(hits[i], dist, np.nan)
    with np.errstate(all="ignore"):
        return hits.mean(axis=0), np.nanmedian(errs, axis=0)


def run_demo(out_dir: str | Path, *, snr: float = 30.0, sweeps: int = 300, overwrite: bool = False, seed: int = 0, echo=print) -> dict:
    """Emulated device on a pseudo-terminal → the real serial path → denoise with the shipped
    model → reconstruct → ``demo.h5`` + ``demo.png`` + a summary against the true source."""
    from calibration.forward import clean_interferograms
    from calibration.noise import snr_db
    from firmware_bridge.client import DeviceClient
    from firmware_bridge.emulator import EmulatedDevice, EmulatorConfig
    from firmware_bridge.serve import PtyTransport, serve
    from spectro.acquire import acquire
    from spectro.anomaly import DEFAULT_DETECTOR_PATH, FaultDetector
    from spectro.denoiser import DEFAULT_MODEL_PATH, Denoiser

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rec_path, png_path = out_dir / "demo.h5", out_dir / "demo.png"
    for p in (rec_path, png_path):
        check_output(p, overwrite)
    cal = reference.load_reference()
    params = reference.reference_params()
    wl = cal.wavelength_nm
    truth, lines_nm = sources.parse_source(DEMO_SOURCE, wl)
    denoiser = Denoiser(DEFAULT_MODEL_PATH, calibration_id=cal.calibration_id)
    detector = FaultDetector(DEFAULT_DETECTOR_PATH, calibration_id=cal.calibration_id)

    transport = PtyTransport()
    device = EmulatedDevice(params, truth, NoiseModel(white_snr_db=snr), EmulatorConfig(seed=seed))
    stop = threading.Event()
    emulator = threading.Thread(target=serve, args=(device, transport), kwargs=dict(rate_hz=400.0, stop=stop), daemon=True)
    emulator.start()
    echo(f"emulated spectrometer {device.config.serial} on {transport.path}: {DEMO_SOURCE.removeprefix('lines:')} at {snr:g} dB")
    try:
        with DeviceClient(transport.path) as client:
            ident = client.identity
            echo(f"connected over the serial link: firmware {'.'.join(map(str, ident.firmware))}, {ident.n_steps} voltage steps")
            summary = acquire(client, rec_path, cal, denoiser=denoiser, detector=detector, count=sweeps, overwrite=overwrite)
    finally:
        stop.set()
        emulator.join(5)
        transport.close()
    echo(f"acquired {summary.sweeps} sweeps in {summary.seconds:.1f} s, {summary.lost} lost, {summary.flagged} flagged as faulty → {rec_path}")

    with RecordingReader(rec_path) as rec:
        raw = rec.interferogram[()].astype(np.float64)
        denoised = rec.column("denoised").astype(np.float64)
        bypassed = rec.column("denoise_bypassed").astype(bool)
        spectra = rec.spectra().astype(np.float64)
    clean = clean_interferograms(params, truth[None, :])[0]
    snr_before, snr_after = float(np.mean(snr_db(clean, raw))), float(np.mean(snr_db(clean, denoised)))
    echo(f"denoiser {denoiser.model_hash[:12]}: SNR {snr_before:.1f} dB → {snr_after:.1f} dB ({snr_after - snr_before:+.1f} dB; "
         f"{bypassed.sum()} sweeps passed through by the guard)")
    rate, err = line_report(spectra, wl, lines_nm)
    l2 = relative_l2(spectra, truth[None, :], smooth_rows=0.5 / (wl[1] - wl[0]))
    found = _mean_peaks(spectra.mean(axis=0), wl, len(lines_nm))
    echo("true line (nm)   found at (nm)   found in   median error")
    for c, r, e in zip(lines_nm, rate, err):
        near = found[np.argmin(np.abs(found - c))] if found.size else np.nan
        echo(f"{c:14.2f}   {near:13.2f}   {100 * r:6.1f} %   " + (f"{e:8.3f} nm" if np.isfinite(e) else "       —"))
    echo(f"spectral error (relative L2 after 0.5 nm smoothing), median over sweeps: {np.median(l2):.3f}")

    from spectro.plotting import demo_figure

    demo_figure(png_path, wl, cal.voltage_v, raw, denoised, clean, spectra, truth, lines_nm, snr)
    echo(f"figure → {png_path}")
    return {"sweeps": summary.sweeps, "lost": summary.lost, "flagged": summary.flagged, "snr_before_db": snr_before, "snr_after_db": snr_after,
            "detection_rate": rate, "median_error_nm": err, "relative_l2": float(np.median(l2)), "peaks_nm": found}


def _mean_peaks(spectrum: np.ndarray, wl: np.ndarray, n: int) -> np.ndarray:
    """The n strongest peaks of a spectrum smoothed by 0.2 nm, sorted by wavelength."""
    x = gaussian_filter1d(spectrum, 0.2 / (wl[1] - wl[0]) / 2.355)
    peaks = local_maxima(x)
    return np.sort(wl[peaks[np.argsort(x[peaks])[::-1][:n]]]) if peaks.size else np.zeros(0)
