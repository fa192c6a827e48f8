"""Two-line resolution of the reference device for every reconstruction method.

    python benchmarks/bench_resolution.py [--trials 64] [--methods nnls,sparse,...]

White Gaussian noise at the paper's SNRs, and the physics model's realistic noise mix
(shot, source intensity, voltage jitter, vibration, drift, 16-bit ADC) on top.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from calibration import reference  # noqa: E402
from calibration.noise import REALISTIC, NoiseModel  # noqa: E402
from spectro.metrics import two_line_resolution  # noqa: E402
from spectro.reconstruct import METHODS, Reconstructor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--snr", type=float, nargs="+", default=[25.0, 30.0, 35.0, 40.0, 45.0])
    ap.add_argument("--methods", default=",".join(m for m in METHODS if m != "smooth"))
    args = ap.parse_args()
    cal, params = reference.load_reference(), reference.reference_params()
    print(f"machine: {machine()}")
    print(f"reference device {cal.calibration_id}; {args.trials} trials per separation, separations 0.1–3.0 nm in 0.1 nm steps\n")
    for label, noise in (("white noise", NoiseModel()), ("white + realistic noise", REALISTIC)):
        rows = []
        for method in args.methods.split(","):
            rec = Reconstructor(cal, method)
            t = time.perf_counter()
            res = [two_line_resolution(params, rec, s, trials=args.trials, seed=11, noise=noise).resolution_nm for s in args.snr]
            rows.append([method, *res, time.perf_counter() - t])
        print(f"two-line resolution (nm), {label}:\n")
        print(table(["method", *[f"{s:g} dB" for s in args.snr], "time (s)"], rows))
        print()


if __name__ == "__main__":
    main()
