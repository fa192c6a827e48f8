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


def demo_figure(path, wl, raw, voltage_v, spectra, truth, lines_nm, resolution, snr) -> None:
    """Raw interferograms; reconstructed vs true spectrum (full band and zooms on close
    pairs); two-line success rate vs separation."""
    plt = _pyplot()
    pairs = _close_pairs(lines_nm)[:3]
    ncols = max(1, len(pairs))
    fig = plt.figure(figsize=(10, 12), constrained_layout=True)
    gs = fig.add_gridspec(4, ncols)
    ax = fig.add_subplot(gs[0, :])
    ax.plot(voltage_v, raw[0], ".-", label="sweep 0 (raw)")
    ax.plot(voltage_v, raw.mean(axis=0), "-", alpha=0.7, label=f"mean of {len(raw)} sweeps")
    ax.set(xlabel="actuation voltage (V)", ylabel="detector signal (a.u.)", title=f"Interferograms at {snr:g} dB")
    ax.legend()
    peak = truth[np.abs(wl[:, None] - lines_nm[None, :]).argmin(axis=0)]
    mean = spectra.mean(axis=0)
    ax = fig.add_subplot(gs[1, :])
    ax.vlines(lines_nm, 0, peak, colors="0.6", lw=4, label="true lines")
    ax.plot(wl, mean, lw=0.9, color="C1", label=f"mean of {len(spectra)} reconstructions (NNLS)")
    ax.set(xlabel="wavelength (nm)", ylabel="power per 0.05 nm bin", title="Reconstructed spectrum vs the true source")
    ax.legend()
    for i, (a, b) in enumerate(pairs):
        ax = fig.add_subplot(gs[2, i])
        sel = (wl >= a - 1.5) & (wl <= b + 1.5)
        ax.vlines(lines_nm[(lines_nm >= a - 1.5) & (lines_nm <= b + 1.5)], 0, peak[(lines_nm >= a - 1.5) & (lines_nm <= b + 1.5)], colors="0.6", lw=4)
        ax.plot(wl[sel], spectra[0][sel], ".-", ms=3, lw=0.8, label="sweep 0")
        ax.plot(wl[sel], mean[sel], lw=1.2, label="mean")
        ax.set(xlabel="wavelength (nm)", title=f"{b - a:.1f} nm pair")
        if i == 0:
            ax.legend(fontsize=8)
    ax = fig.add_subplot(gs[3, :])
    for s, r in resolution.items():
        ax.plot(r.separations_nm, r.success_rate, "o-", ms=3, label=f"{s:g} dB: {r.resolution_nm:.2f} nm")
    ax.axhline(0.8, color="k", ls=":", lw=1)
    ax.set(xlabel="line separation (nm)", ylabel="success rate", ylim=(0, 1.05),
           title=f"Two-line resolution (NNLS, {next(iter(resolution.values())).trials} trials per separation)")
    ax.legend()
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
