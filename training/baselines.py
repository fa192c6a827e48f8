"""Classical denoisers to run beside the CAE, each (N, V) → (N, V), parameters chosen on
validation data (:func:`tune`). No torch: numpy, scipy, PyWavelets.

* Savitzky–Golay smoothing (window, order);
* wavelet shrinkage, universal threshold σ·√(2 ln n), σ from the finest details' MAD;
* truncated SVD: projection onto the top-r right singular vectors of the whole calibration
  matrix (the linear autoencoder, i.e. PCA of the rows);
* window projection: locate the 101-row window that holds the lines from a non-negative
  reconstruction, project onto the top-r singular vectors of that window's rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from scipy.signal import savgol_filter

from calibration.matrix import Calibration
from calibration.noise import snr_db
from spectro.nnls import Dictionary, nnls_batch

Denoiser = Callable[[np.ndarray], np.ndarray]
WINDOW = 101
MAX_RANK = 16  # window bases are kept up to this rank


def identity() -> Denoiser:
    return lambda Y: np.asarray(Y, np.float64)


def savitzky_golay(window: int, order: int) -> Denoiser:
    return lambda Y: savgol_filter(np.asarray(Y, np.float64), window, order, axis=1, mode="interp")


def wavelet(name: str = "sym4", level: int | None = None) -> Denoiser:
    import pywt

    def run(Y):
        Y = np.asarray(Y, np.float64)
        coeffs = pywt.wavedec(Y, name, level=level, axis=1, mode="smooth")
        sigma = np.median(np.abs(coeffs[-1]), axis=1, keepdims=True) / 0.6745
        thr = sigma * np.sqrt(2 * np.log(Y.shape[1]))
        coeffs = [coeffs[0]] + [pywt.threshold(c, thr, mode="soft") for c in coeffs[1:]]
        return pywt.waverec(coeffs, name, axis=1, mode="smooth")[:, : Y.shape[1]]

    return run


def truncated_svd(cal: Calibration, rank: int) -> Denoiser:
    _, _, vt = np.linalg.svd(cal.matrix.astype(np.float64), full_matrices=False)
    basis = vt[:rank]  # (r, V)
    dark = cal.dark

    def run(Y):
        Z = np.asarray(Y, np.float64) - dark
        return Z @ basis.T @ basis + dark

    return run


class WindowProjection:
    """Project each interferogram onto the span of the window of calibration rows that a
    non-negative reconstruction points to (top ``rank`` singular vectors of its 101 rows)."""

    def __init__(self, cal: Calibration, rank: int):
        self.cal, self.rank = cal, rank
        self.dictionary, bases = _window_bases(cal)
        self.bases = bases[:, :rank]  # (S, r, V)

    def locate(self, Z: np.ndarray) -> np.ndarray:
        x = nnls_batch(self.dictionary, Z)
        mass = np.cumsum(np.pad(x, ((0, 0), (1, 0))), axis=1)
        return np.argmax(mass[:, WINDOW:] - mass[:, :-WINDOW], axis=1)

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        Z = np.asarray(Y, np.float64) - self.cal.dark
        B = self.bases[self.locate(Z)]  # (N, r, V)
        return np.einsum("nrv,nr->nv", B, np.einsum("nrv,nv->nr", B, Z)) + self.cal.dark


@functools.lru_cache(maxsize=2)
def _window_bases_cached(cal_id: str, matrix_bytes: bytes, shape: tuple[int, int]):
    P = np.frombuffer(matrix_bytes, dtype=np.float32).reshape(shape).astype(np.float64)
    # Right singular vectors of every window of 101 rows: 2901 SVDs of 101 × 64, once.
    bases = np.stack([np.linalg.svd(P[s:s + WINDOW], full_matrices=False)[2][:MAX_RANK] for s in range(shape[0] - WINDOW + 1)])
    return Dictionary(P.T), bases


def _window_bases(cal: Calibration):
    return _window_bases_cached(cal.calibration_id, cal.matrix.tobytes(), cal.matrix.shape)


def snr_gain(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray) -> float:
    """Mean output SNR − mean input SNR, dB (the paper's SNR)."""
    return float(np.mean(snr_db(clean, denoised)) - np.mean(snr_db(clean, noisy)))


def tune(make: Callable[..., Denoiser], grid: list[dict], clean: np.ndarray, noisy: np.ndarray) -> tuple[dict, float]:
    """The grid point with the best SNR gain on validation data → (params, gain)."""
    best, best_gain = None, -np.inf
    for params in grid:
        try:
            gain = snr_gain(clean, noisy, make(**params)(noisy))
        except ValueError:  # e.g. a window longer than the signal
            continue
        if gain > best_gain:
            best, best_gain = params, gain
    return best, best_gain
