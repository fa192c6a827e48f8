"""Denoiser speed: ONNX runtime (float, int8) against the same model in PyTorch, and the
denoiser's share of ``spectro reconstruct``.

    python benchmarks/bench_denoiser.py [--sweeps 2000] [--int8 PATH]

Per-sweep latency: one sweep per call, one thread, p50/p99 over ``--sweeps`` calls (what
acquisition does). Batch throughput: 4096-sweep batches on all cores. End to end: the
same recording reconstructed with and without the denoiser, one run after the other.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from calibration import reference  # noqa: E402
from calibration.noise import NoiseModel  # noqa: E402
from calibration.sources import parse_source  # noqa: E402
from spectro.denoiser import DEFAULT_MODEL_PATH, Denoiser  # noqa: E402
from spectro.pipeline import reconstruct_file, simulate_recording  # noqa: E402


def latency(fn, X: np.ndarray) -> tuple[float, float]:
    for x in X[:50]:
        fn(x)
    t = np.empty(len(X))
    for i, x in enumerate(X):
        t0 = time.perf_counter()
        fn(x)
        t[i] = time.perf_counter() - t0
    return float(np.percentile(t, 50) * 1e3), float(np.percentile(t, 99) * 1e3)


def throughput(fn, X: np.ndarray, repeats: int = 3) -> float:
    fn(X[:64])
    best = min(_timed(fn, X) for _ in range(repeats))
    return len(X) / best


def _timed(fn, X):
    t0 = time.perf_counter()
    fn(X)
    return time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", type=int, default=2000)
    ap.add_argument("--int8", help="int8 model (spectro export --int8); made in a temporary folder if torch is installed")
    args = ap.parse_args(argv)
    cal = reference.load_reference()
    rng = np.random.default_rng(0)
    from calibration.matrix import padded_q

    Q = padded_q(cal.matrix.astype(np.float64))
    starts = rng.integers(0, 3000, 4096)
    X = (np.stack([Q[s + rng.choice(101, 3, replace=False)].sum(0) for s in starts]) + cal.dark)
    X = (X + 0.03 * np.sqrt(np.mean(X**2, axis=1, keepdims=True)) * rng.standard_normal(X.shape)).astype(np.float32)
    single = X[: args.sweeps]
    tmp = tempfile.TemporaryDirectory()
    models = {"float": DEFAULT_MODEL_PATH}
    try:
        import torch

        from training import checkpoint
        from training.default_model import DEFAULT_MODEL_PATH as CKPT

        model, _ = checkpoint.load(CKPT)
        if args.int8 is None:
            from training.export import export

            args.int8 = os.path.join(tmp.name, "int8.onnx")
            export(CKPT, args.int8, int8=True, cal=cal)
    except ImportError:
        torch = model = None
    if args.int8:
        models["int8"] = Path(args.int8)
    rows = []
    for name, path in models.items():
        per = Denoiser(path, mode="sweep")
        batch = Denoiser(path, mode="batch")
        p50, p99 = latency(per, single)
        rows.append([f"onnxruntime {name} ({path.stat().st_size / 1e6:.2f} MB)", p50, p99, throughput(batch, X)])
    if torch is not None:
        def run(x):
            with torch.no_grad():
                return model.denoise(torch.from_numpy(x if x.ndim == 2 else x[None]))

        torch.set_num_threads(1)
        p50, p99 = latency(run, single)
        torch.set_num_threads(os.cpu_count())
        rows.append(["PyTorch float (CPU)", p50, p99, throughput(run, X)])
    print(f"machine: {machine()}\n")
    print(table(["model", "per-sweep p50 (ms)", "per-sweep p99 (ms)", "batch (sweeps/s, all cores)"],
                [[r[0], round(r[1], 3), round(r[2], 3), round(r[3])] for r in rows]))

    # End to end: the same recording with and without the denoiser.
    params = reference.reference_params()
    spectrum, lines = parse_source("lines:1530@0.5,1531.2@0.5", params.wavelengths_nm())
    rec = os.path.join(tmp.name, "rec.h5")
    simulate_recording(rec, params, spectrum, count=8192, noise=NoiseModel(white_snr_db=30.0), lines_nm=lines)
    den = Denoiser(DEFAULT_MODEL_PATH, mode="batch")
    times = {}
    for label, d in (("no denoising", None), ("denoised", den), ("no denoising ", None), ("denoised ", den)):
        s = reconstruct_file(rec, os.path.join(tmp.name, f"out{len(times)}.h5"), cal, denoiser=d)
        times[label] = s.seconds
    plain = min(times["no denoising"], times["no denoising "])
    with_den = min(times["denoised"], times["denoised "])
    print(f"\nspectro reconstruct, 8192 sweeps: {8192 / plain:.0f} sweeps/s without, {8192 / with_den:.0f} sweeps/s with the denoiser "
          f"(denoiser + guard = {(with_den - plain) / with_den:.0%} of the end-to-end time)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
