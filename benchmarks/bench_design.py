"""How the interferometer design sets the two-line resolution (the reference-device tuning).

    python benchmarks/bench_design.py [--opd 400 600 1000] [--trials 32]

For each ΔOPD_max the ideal calibration is built and NNLS's two-line resolution measured at
25/30/35 dB of white noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from calibration.matrix import simulated_calibration  # noqa: E402
from calibration.physics import DeviceParams  # noqa: E402
from spectro.metrics import two_line_resolution  # noqa: E402
from spectro.reconstruct import Reconstructor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--opd", type=float, nargs="+", default=[400.0, 600.0, 1000.0])
    ap.add_argument("--trials", type=int, default=32)
    args = ap.parse_args()
    rows = []
    for opd in args.opd:
        params = dataclasses.replace(DeviceParams(), opd_max_um=opd)
        rec = Reconstructor(simulated_calibration(params, f"opd-{opd:g}", ""), "nnls")
        rows.append([f"{opd:g} µm", *[two_line_resolution(params, rec, s, trials=args.trials, seed=0).resolution_nm for s in (25.0, 30.0, 35.0)]])
    print(f"machine: {machine()}\n\nNNLS two-line resolution (nm), {args.trials} trials per separation:\n")
    print(table(["ΔOPD_max", "25 dB", "30 dB", "35 dB"], rows))


if __name__ == "__main__":
    main()
