"""Figures (matplotlib, headless Agg backend); written atomically like every output."""

from __future__ import annotations

import numpy as np

from calibration.fileio import atomic_output


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def demo_figure(path, wl, raw, voltage_v, spectra, truth, lines_nm, resolution, snr) -> None:
    plt = _figure()
    fig, ax = plt.subplots(3, 1, figsize=(9, 10), constrained_layout=True)
    ax[0].plot(voltage_v, raw[0], ".-", label="sweep 0 (raw)")
    ax[0].plot(voltage_v, raw.mean(axis=0), "-", alpha=0.7, label=f"mean of {len(raw)} sweeps")
    ax[0].set(xlabel="actuation voltage (V)", ylabel="detector signal (a.u.)", title=f"Interferograms at {snr:g} dB")
    ax[0].legend()
    ax[1].plot(wl, spectra[0], lw=0.8, label="reconstruction, sweep 0 (NNLS)")
    ax[1].plot(wl, spectra.mean(axis=0), lw=0.8, label=f"mean of {len(spectra)} reconstructions")
    ax[1].vlines(lines_nm, 0, truth[np.abs(wl[:, None] - lines_nm[None, :]).argmin(axis=0)], colors="k", lw=1.5, label="true lines")
    ax[1].set(xlabel="wavelength (nm)", ylabel="power per 0.05 nm bin", title="Reconstructed spectrum vs the true source")
    ax[1].legend()
    for s, r in resolution.items():
        ax[2].plot(r.separations_nm, r.success_rate, "o-", ms=3, label=f"{s:g} dB: {r.resolution_nm:.2f} nm")
    ax[2].axhline(0.8, color="k", ls=":", lw=1)
    ax[2].set(xlabel="line separation (nm)", ylabel="success rate", title="Two-line resolution (NNLS, 32 trials per separation)", ylim=(0, 1.05))
    ax[2].legend()
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
