"""Side-by-side evaluation of denoisers on fresh held-out mixtures (``spectro evaluate``).

For each SNR (25, 30, 35 dB of white noise, optionally on top of the physics model's
structured noise): the paper's mixtures (2–4 rows of one window of Q) with a new
seed, and for each method — no denoising, Savitzky–Golay, wavelet shrinkage, truncated SVD,
window projection, the CAE — the mean SNR gain (dB) and the two-line resolution (nm) of
denoising followed by NNLS. Beside them the device's resolution bound: the exhaustive
two-line maximum-likelihood search on the raw interferograms. Baseline parameters are tuned
on a separate validation set.
"""

from __future__ import annotations

import numpy as np

from calibration import calfile
from calibration.fileio import atomic_output
from calibration.matrix import Calibration
from calibration.noise import NoiseModel
from calibration.physics import DeviceParams
from spectro.metrics import two_line_resolution
from spectro.reconstruct import Reconstructor
from training import baselines as B
from training.dataset import DatasetConfig, synthesize

SNRS = (25.0, 30.0, 35.0)


def tuned_baselines(cal: Calibration, seed: int = 777, per_k: int = 200, noise: NoiseModel | None = None) -> dict[str, tuple[B.Denoiser, dict, float]]:
    """name → (denoiser, chosen parameters, validation gain), tuned on fresh mixtures at all
    SNRs (with ``noise``'s structured terms when given)."""
    val = synthesize(cal, DatasetConfig(per_k=per_k, snrs_db=SNRS, seed=seed), noise)
    out = {"none": (B.identity(), {}, 0.0)}
    grid = [dict(window=w, order=o) for w in (5, 7, 9, 11, 15, 21) for o in (2, 3, 4) if o < w]
    p, g = B.tune(B.savitzky_golay, grid, val.clean, val.noisy)
    out["savitzky-golay"] = (B.savitzky_golay(**p), p, g)
    p, g = B.tune(B.wavelet, [dict(name=n, level=lv) for n in ("db2", "sym4", "sym8") for lv in (1, 2)], val.clean, val.noisy)
    out["wavelet"] = (B.wavelet(**p), p, g)
    p, g = B.tune(lambda rank: B.truncated_svd(cal, rank), [dict(rank=r) for r in (16, 24, 32, 40, 48, 56, 60)], val.clean, val.noisy)
    out["truncated SVD"] = (B.truncated_svd(cal, **p), p, g)
    cache: dict[int, B.WindowProjection] = {}

    def window(rank):
        if rank not in cache:
            cache[rank] = B.WindowProjection(cal, rank)
        return cache[rank]

    p, g = B.tune(window, [dict(rank=r) for r in (4, 5, 6, 7, 8, 10)], val.clean, val.noisy)
    out["window projection"] = (window(**p), p, g)
    return out


def torch_denoiser(model) -> B.Denoiser:
    import torch

    def run(Y):
        with torch.no_grad():
            return model.denoise(torch.from_numpy(np.asarray(Y, np.float32))).double().numpy()

    return run


def onnx_denoiser(den) -> B.Denoiser:
    """A :class:`spectro.denoiser.Denoiser` (ONNX runtime) as an evaluation denoiser."""

    def run(Y):
        return den(np.ascontiguousarray(Y, dtype=np.float32)).astype(np.float64)

    return run


def evaluate(cal: Calibration, denoisers: dict[str, B.Denoiser], *, seed: int = 2026, per_k: int = 300, trials: int = 32,
             separations_nm: np.ndarray | None = None, snrs=SNRS, noise: NoiseModel | None = None, log=print) -> dict:
    """SNR gain and resolution per method and SNR, plus the resolution bound → results dict.
    ``noise`` adds the physics model's structured terms under the white noise."""
    raw = calfile.device_params(cal)
    if raw is None:
        raise ValueError("resolution is simulated through the physics model: evaluate needs a simulated calibration")
    params = DeviceParams.from_dict(raw)
    nnls = Reconstructor(cal, "nnls")
    pairs = Reconstructor(cal, "pairs")
    results = {"snrs_db": list(snrs), "methods": {}, "bound_nm": {}}
    res = dict(trials=trials, seed=seed, separations_nm=separations_nm, noise=noise)
    for snr in snrs:
        results["bound_nm"][snr] = two_line_resolution(params, pairs, snr, **res).resolution_nm
    for name, den in denoisers.items():
        row = {"gain_db": {}, "resolution_nm": {}}
        for snr in snrs:
            test = synthesize(cal, DatasetConfig(per_k=per_k, snrs_db=(snr,), seed=seed + int(snr)), noise)
            row["gain_db"][snr] = B.snr_gain(test.clean, test.noisy, den(test.noisy))
            row["resolution_nm"][snr] = two_line_resolution(params, lambda Y, d=den: nnls(d(Y)), snr, **res).resolution_nm
        results["methods"][name] = row
        log(f"{name:18s} gain " + " ".join(f"{row['gain_db'][s]:+6.2f}" for s in snrs) + " dB   resolution " + " ".join(f"{row['resolution_nm'][s]:.1f}" for s in snrs) + " nm")
    return results


def markdown(results: dict, notes: dict[str, str] | None = None) -> str:
    snrs = results["snrs_db"]
    fmt = lambda v: f"{v:.1f}" if np.isfinite(v) else "> 3"  # noqa: E731
    head = "| method | " + " | ".join(f"gain {s:g} dB" for s in snrs) + " | " + " | ".join(f"res. {s:g} dB (nm)" for s in snrs) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(snrs))]
    for name, row in results["methods"].items():
        label = f"{name} ({notes[name]})" if notes and notes.get(name) else name
        lines.append(f"| {label} | " + " | ".join(f"{row['gain_db'][s]:+.2f}" for s in snrs) + " | " + " | ".join(fmt(row["resolution_nm"][s]) for s in snrs) + " |")
    lines.append("| **bound**: two-line ML search, raw | " + " | ".join("" for _ in snrs) + " | " + " | ".join(fmt(results["bound_nm"][s]) for s in snrs) + " |")
    return "\n".join(lines) + "\n"


def figure(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    snrs = results["snrs_db"]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for name, row in results["methods"].items():
        ax[0].plot(snrs, [row["gain_db"][s] for s in snrs], "o-", label=name)
        ax[1].plot(snrs, [min(row["resolution_nm"][s], 3.2) for s in snrs], "o-", label=name)
    ax[1].plot(snrs, [min(results["bound_nm"][s], 3.2) for s in snrs], "k--", lw=2, label="bound (ML pair search)")
    ax[0].set(xlabel="input SNR (dB)", ylabel="SNR gain (dB)", title="Denoising gain (paper's SNR)")
    ax[1].set(xlabel="input SNR (dB)", ylabel="two-line resolution (nm)", title="Resolution after denoising + NNLS")
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=8)
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
