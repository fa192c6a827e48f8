"""Where should the guard stop denoising? The default pipeline (shipped CAE + guard) with the
high-SNR cut at several values: SNR gain and two-line resolution against the bound.

    python benchmarks/bench_guard_snr.py [--cuts 32 33 34]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from calibration import reference  # noqa: E402
from spectro.denoiser import DEFAULT_MODEL_PATH, Denoiser  # noqa: E402
from spectro.guard import NoiseGuard  # noqa: E402
from training.evaluate import evaluate, markdown, onnx_denoiser  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cuts", type=float, nargs="+", default=[32.0, 33.0, 34.0])
    args = ap.parse_args(argv)
    cal = reference.load_reference()
    cae = onnx_denoiser(Denoiser(DEFAULT_MODEL_PATH, mode="batch"))
    guards = {cut: NoiseGuard(cal, max_snr_db=cut) for cut in args.cuts}
    denoisers = {f"CAE + guard, cut {cut:g} dB": (lambda Y, g=g: g(Y, cae(Y))[0]) for cut, g in guards.items()}
    results = evaluate(cal, denoisers, log=lambda s: print(s, file=sys.stderr))
    print(f"machine: {machine()}\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
