"""Figures (matplotlib, headless Agg backend); written atomically like every output."""

from __future__ import annotations

import numpy as np

from calibration.fileio import atomic_output


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _close_pairs(lines_nm: np.ndarray, max_gap_nm: float = 2.0) -> list[tuple[float, float]]:
    """Neighbouring true lines closer than ``max_gap_nm``: the interesting zooms."""
    s = np.sort(lines_nm)
    return [(a, b) for a, b in zip(s[:-1], s[1:]) if b - a <= max_gap_nm]


def demo_figure(path, wl, voltage_v, raw, denoised, clean, spectra, truth, lines_nm, snr) -> None:
    """Raw vs denoised interferogram against the noise-free one; reconstructed vs true
    spectrum (full band and a zoom on the lines)."""
    plt = _pyplot()
    fig, (a0, a1, a2) = plt.subplots(3, 1, figsize=(10, 11), constrained_layout=True)
    a0.plot(voltage_v, raw[0], ".", ms=4, color="0.5", label="raw sweep")
    a0.plot(voltage_v, denoised[0], "-", lw=1.2, color="C0", label="denoised")
    a0.plot(voltage_v, clean, "--", lw=1, color="k", label="noise-free")
    a0.set(xlabel="actuation voltage (V)", ylabel="detector signal (a.u.)", title=f"Interferogram at {snr:g} dB")
    a0.legend()
    peak = truth[np.abs(wl[:, None] - lines_nm[None, :]).argmin(axis=0)]
    mean = spectra.mean(axis=0)
    for ax, sel in ((a1, slice(None)), (a2, (wl >= lines_nm.min() - 2) & (wl <= lines_nm.max() + 2))):
        ax.vlines(lines_nm, 0, peak, colors="0.6", lw=4, label="true lines")
        ax.plot(wl[sel], spectra[0][sel], lw=0.8, color="C2", alpha=0.8, label="sweep 0")
        ax.plot(wl[sel], mean[sel], lw=1.2, color="C1", label=f"mean of {len(spectra)} sweeps")
        ax.set(xlabel="wavelength (nm)", ylabel="power per 0.05 nm bin")
    a1.set_title("Reconstructed spectrum (denoised + NNLS) vs the true source")
    a2.set_title("Zoom on the lines")
    a1.legend()
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
