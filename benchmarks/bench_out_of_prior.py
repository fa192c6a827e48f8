"""Spectra outside the denoiser's training prior: does denoising hurt them, and does the guard fix it?

    python benchmarks/bench_out_of_prior.py --model runs/cae

Broadband light (lamp, LED, absorption) reconstructed with ``smooth``, many lines and two lines
with ``nnls``, 32 sweeps each at 30 dB: median relative L2 error after 3 nm smoothing without
denoising, with the window projection, with the CAE, and with the CAE behind the noise guard
(spectro/guard.py); plus the guard's cost on in-prior mixtures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from calibration import reference, sources  # noqa: E402
from calibration.forward import simulate  # noqa: E402
from calibration.noise import NoiseModel  # noqa: E402
from spectro.guard import DEFAULT_THRESHOLD, NoiseGuard  # noqa: E402
from spectro.metrics import relative_l2  # noqa: E402
from spectro.reconstruct import Reconstructor  # noqa: E402
from training import baselines as B  # noqa: E402
from training import checkpoint  # noqa: E402
from training.dataset import DatasetConfig, synthesize  # noqa: E402
from training.evaluate import torch_denoiser  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    args = ap.parse_args()
    cal, params = reference.load_reference(), reference.reference_params()
    wl = params.wavelengths_nm()
    model, _ = checkpoint.load(args.model, calibration_id=cal.calibration_id)
    cae, wp, guard = torch_denoiser(model), B.WindowProjection(cal, 7), NoiseGuard(cal, args.threshold)
    smooth, nnls = Reconstructor(cal, "smooth"), Reconstructor(cal, "nnls")
    cases = {
        "halogen lamp": (sources.lamp(wl, 2.0), smooth), "LED 1550/40 nm": (sources.gaussian_band(wl, 1550, 40, 2.0), smooth),
        "absorption (3 bands)": (sources.parse_source("absorption", wl)[0] / 10, smooth),
        "12 lines": (sources.lines(wl, np.linspace(1490, 1620, 12), np.full(12, 0.15)), nnls),
        "2 lines (in prior)": (sources.lines(wl, [1530, 1531.2], [0.6, 0.5]), nnls),
    }
    rng = np.random.default_rng(3)
    rows = []
    for name, (s, rec) in cases.items():
        S = np.repeat(s[None], 32, axis=0)
        _, Y = simulate(params, S, NoiseModel(white_snr_db=30.0), rng)
        guarded, passed = guard(Y, cae(Y))
        errs = [float(np.median(relative_l2(rec(D), S, smooth_rows=60))) for D in (Y, wp(Y), cae(Y), guarded)]
        rows.append([name, *errs, f"{100 * passed.mean():.0f} %"])
    print(f"machine: {machine()}\nmodel {args.model}; guard threshold {args.threshold:g}\n")
    print("median relative L2 error after 3 nm smoothing, 30 dB:\n")
    print(table(["source", "no denoising", "window projection", "CAE", "CAE + guard", "guard passed through"], rows))
    test = synthesize(cal, DatasetConfig(per_k=300, snrs_db=(30.0,), seed=5))
    den = cae(test.noisy)
    guarded, passed = guard(test.noisy, den)
    print(f"\nin-prior mixtures at 30 dB: CAE gain {B.snr_gain(test.clean, test.noisy, den):+.2f} dB, with guard "
          f"{B.snr_gain(test.clean, test.noisy, guarded):+.2f} dB ({100 * passed.mean():.1f} % passed through)")


if __name__ == "__main__":
    main()
