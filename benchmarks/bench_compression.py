"""DC-AE's claim in 1-D: do residual shortcuts keep a spectrum codec's quality at high
compression? Same network with and without shortcuts, same decoupled three-phase schedule
(training/compression.py), compression ratios 8, 16, 32.

    python benchmarks/bench_compression.py [--samples 4000]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from training.compression import CodecSchedule, study  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=4000)
    args = ap.parse_args(argv)
    cfg = dataclasses.replace(CodecSchedule(), samples=args.samples)
    t0 = time.perf_counter()
    rows = study((8, 16, 32), cfg, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(f"machine: {machine()}; {cfg.samples} training spectra, schedule {cfg.phase1_epochs}/{cfg.phase2_epochs}/{cfg.phase3_epochs} epochs, "
          f"{time.perf_counter() - t0:.0f} s; 500 test spectra (60 % lines, 40 % bands)\n")
    print(table(["compression", "shortcuts", "parameters", "relative L2 (median)", "peak error (nm, median)", "lines within 0.1 nm"],
                [[f"{r['compression']}×", "yes" if r["shortcuts"] else "no", r["parameters"], round(r["relative_l2"], 3),
                  round(r["peak_error_nm"], 3), f"{100 * r['lines_within_0.1nm']:.0f} %"] for r in rows]))


if __name__ == "__main__":
    main()
