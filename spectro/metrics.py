"""Quality metrics, as the paper defines them where it does.

* :func:`snr_db`, :func:`add_white_noise` — the paper's SNR (DC level included).
* :func:`two_line_resolution` — the smallest separation at which two nearby lines are
  reliably resolved after noise and reconstruction.
* :func:`relative_l2`, :func:`peak_position_error` — spectral error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

from calibration.forward import simulate
from calibration.noise import NoiseModel, add_white_noise, snr_db
from calibration.physics import DeviceParams

__all__ = [
    "snr_db", "add_white_noise", "relative_l2", "local_maxima", "peak_position_error",
    "ResolutionResult", "resolved", "two_line_resolution",
]

SUCCESS_RATE = 0.8  # a separation counts as resolved at ≥ 80 % success
DIP_RATIO = 0.8  # the minimum between the two peaks must be ≤ this × the smaller peak
SPURIOUS_RATIO = 0.5  # no other peak may exceed this × the smaller peak


def relative_l2(estimate: np.ndarray, truth: np.ndarray, *, smooth_rows: float = 0.0) -> np.ndarray:
    """‖est − true‖ / ‖true‖ over the last axis, optionally after Gaussian smoothing of both.

    ``smooth_rows`` is the Gaussian FWHM in grid rows (3 nm on a 0.05 nm grid = 60 rows).
    """
    est, tru = np.asarray(estimate, float), np.asarray(truth, float)
    if smooth_rows:
        sigma = smooth_rows / (2 * np.sqrt(2 * np.log(2)))
        est, tru = gaussian_filter1d(est, sigma, axis=-1), gaussian_filter1d(tru, sigma, axis=-1)
    return np.linalg.norm(est - tru, axis=-1) / np.linalg.norm(tru, axis=-1)


def local_maxima(spectrum: np.ndarray) -> np.ndarray:
    """Indices of positive local maxima of a 1-D spectrum (plateaus count once, at their start)."""
    x = np.asarray(spectrum, float)
    left = np.r_[-np.inf, x[:-1]]
    right = np.r_[x[1:], -np.inf]
    return np.flatnonzero((x > 0) & (x > left) & (x >= right))


def peak_position_error(spectrum: np.ndarray, wavelength_nm: np.ndarray, lines_nm: np.ndarray, *, min_rel_height: float = 0.1) -> np.ndarray:
    """For each true line, |distance| in nm to the nearest found peak above
    ``min_rel_height`` × the strongest peak (inf when no peak is found)."""
    x = np.asarray(spectrum, float)
    peaks = local_maxima(x)
    if peaks.size == 0:
        return np.full(len(lines_nm), np.inf)
    peaks = peaks[x[peaks] >= min_rel_height * x[peaks].max()]
    found = np.asarray(wavelength_nm)[peaks]
    return np.min(np.abs(np.asarray(lines_nm, float)[:, None] - found[None, :]), axis=1)


def resolved(spectrum: np.ndarray, k1: int, k2: int) -> bool:
    """Two lines at rows k1 < k2 are resolved when:

    * the spectrum has a local maximum within ±max(2, d/4) rows of each line (d = k2 − k1),
      the two being distinct;
    * the minimum between those two maxima is ≤ 0.8 × the smaller of them;
    * no other local maximum (outside both tolerance windows) exceeds 0.5 × the smaller.
    """
    x = np.asarray(spectrum, float)
    d = k2 - k1
    tol = max(2.0, d / 4.0)
    peaks = local_maxima(x)
    near1 = peaks[np.abs(peaks - k1) <= tol]
    near2 = peaks[np.abs(peaks - k2) <= tol]
    if near1.size == 0 or near2.size == 0:
        return False
    p1 = near1[np.argmax(x[near1])]
    p2 = near2[np.argmax(x[near2])]
    if p1 == p2:
        others = near2[near2 != p1]
        if others.size == 0:
            return False
        p2 = others[np.argmax(x[others])]
    p1, p2 = min(p1, p2), max(p1, p2)
    smaller = min(x[p1], x[p2])
    if x[p1:p2 + 1].min() > DIP_RATIO * smaller:
        return False
    other = peaks[(np.abs(peaks - k1) > tol) & (np.abs(peaks - k2) > tol)]
    return not (other.size and x[other].max() > SPURIOUS_RATIO * smaller)


@dataclass
class ResolutionResult:
    """Outcome of :func:`two_line_resolution`; ``resolution_nm`` is inf if never resolved."""

    resolution_nm: float
    separations_nm: np.ndarray
    success_rate: np.ndarray
    trials: int
    snr_db: float
    details: dict = field(default_factory=dict)

    def summary(self) -> str:
        res = f"{self.resolution_nm:.2f} nm" if np.isfinite(self.resolution_nm) else f"> {self.separations_nm.max():.2f} nm"
        return f"two-line resolution at {self.snr_db:g} dB: {res} ({self.trials} trials per separation)"


def two_line_resolution(
    params: DeviceParams,
    reconstruct: Callable[[np.ndarray], np.ndarray],
    snr: float,
    *,
    separations_nm: np.ndarray | None = None,
    trials: int = 32,
    seed: int = 0,
    noise: NoiseModel | None = None,
    margin_rows: int = 50,
) -> ResolutionResult:
    """Two-line resolution of a device + reconstruction at a target SNR (dB).

    For each separation d (default 0.1–3.0 nm in 0.1 nm steps) and each of ``trials``
    trials: lines at rows k and k+d with amplitudes 1 and U(0.7, 1), k uniform in the
    interior (``margin_rows`` from the edges); simulate through the physics model
    (``noise`` adds structured terms; white noise at ``snr`` always); reconstruct; judge with
    :func:`resolved`. The resolution is the smallest tested separation from which the
    success rate stays ≥ 0.8 for every larger one tested.
    """
    step = params.wavelengths_nm()[1] - params.wavelengths_nm()[0]
    if separations_nm is None:
        separations_nm = np.round(np.arange(0.1, 3.0001, 0.1), 6)
    seps = np.asarray(separations_nm, float)
    rows = np.maximum(1, np.round(seps / step).astype(int))
    rng = np.random.default_rng(seed)
    W = params.n_wavelengths
    n = seps.size * trials
    k1 = rng.integers(margin_rows, W - margin_rows - rows.max(), size=n)
    d = np.repeat(rows, trials)
    k2 = k1 + d
    spectra = np.zeros((n, W))
    spectra[np.arange(n), k1] = 1.0
    spectra[np.arange(n), k2] = rng.uniform(0.7, 1.0, size=n)
    base = noise or NoiseModel()
    model = NoiseModel(**{**base.to_dict(), "white_snr_db": float(snr)})
    _, noisy = simulate(params, spectra, model, rng)
    est = reconstruct(noisy)
    ok = np.array([resolved(est[i], k1[i], k2[i]) for i in range(n)]).reshape(seps.size, trials)
    rate = ok.mean(axis=1)
    good = rate >= SUCCESS_RATE
    # Smallest separation from which every larger tested one is also good.
    tail_good = np.flip(np.cumprod(np.flip(good)).astype(bool))
    resolution = float(seps[tail_good].min()) if tail_good.any() else float("inf")
    return ResolutionResult(resolution, seps, rate, trials, float(snr))
