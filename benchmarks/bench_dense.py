"""Dense (broadband) spectra: relative L2 error after 3 nm smoothing, per method.

    python benchmarks/bench_dense.py [--sweeps 32]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from calibration import reference, sources  # noqa: E402
from calibration.forward import simulate  # noqa: E402
from calibration.noise import NoiseModel  # noqa: E402
from spectro.metrics import relative_l2  # noqa: E402
from spectro.reconstruct import Reconstructor  # noqa: E402

METHODS = ("nnls", "smooth", "tikhonov", "elastic")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweeps", type=int, default=32)
    args = ap.parse_args()
    cal, params = reference.load_reference(), reference.reference_params()
    wl = params.wavelengths_nm()
    cases = {
        "halogen lamp": sources.lamp(wl, 20.0),
        "LED 1550/40 nm": sources.gaussian_band(wl, 1550.0, 40.0, 20.0),
        "absorption (3 bands)": sources.parse_source("absorption", wl)[0],
        "two lines": sources.lines(wl, [1520.0, 1580.0], [1.0, 0.8]),
    }
    recs = {m: Reconstructor(cal, m) for m in METHODS}
    rng = np.random.default_rng(5)
    print(f"machine: {machine()}")
    print(f"median relative L2 error after 3 nm (60-row) Gaussian smoothing of both, {args.sweeps} sweeps per case\n")
    for snr in (30.0, 40.0):
        rows = []
        for name, s in cases.items():
            S = np.repeat(s[None], args.sweeps, axis=0)
            _, Y = simulate(params, S, NoiseModel(white_snr_db=snr), rng)
            row = [name]
            for m in METHODS:
                t = time.perf_counter()
                X = recs[m](Y)
                dt = (time.perf_counter() - t) / args.sweeps
                row.append(f"{np.median(relative_l2(X, S, smooth_rows=60)):.3f} ({dt * 1e3:.1f} ms)")
            rows.append(row)
        print(f"SNR {snr:g} dB — error (time per sweep):\n")
        print(table(["source", *METHODS], rows))
        print()


if __name__ == "__main__":
    main()
