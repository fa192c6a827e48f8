"""Every backbone of the registry as the denoiser, side by side: SNR gain at 25/30/35 dB,
parameters, ONNX size and per-sweep latency.

    python benchmarks/bench_backbones.py [--per-k 3000] [--epochs 15]

Each backbone (except the shipped CAE) is trained on the paper's mixtures (``--per-k`` per
line count, 30 and 36 dB) with its default objective and DAE's denoising one, exported
through ``spectro export``'s verified path, and run by onnxruntime on fresh mixtures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from calibration import reference  # noqa: E402
from calibration.noise import snr_db  # noqa: E402
from spectro.denoiser import DEFAULT_MODEL_PATH, Denoiser  # noqa: E402
from training.dataset import DatasetConfig, synthesize  # noqa: E402
from training.default_model import DEFAULT_MODEL_PATH as CAE_CHECKPOINT  # noqa: E402
from training.export import export  # noqa: E402
from training.models import parameter_count  # noqa: E402
from training.train import TrainConfig, train  # noqa: E402

RUNS = [  # (label, arch, objective, config overrides)
    ("linear AE (PCA), latent 56, L-BFGS", "linear", "reconstruct", {"latent": 56}),
    ("AE, latent 16", "ae", "reconstruct", {"latent": 16}),
    ("DAE, latent 16", "dae", "denoise", {"latent": 16}),
    ("β-VAE, latent 16, β 0.01", "vae", "vae", {"latent": 16, "beta": 0.01}),
    ("DC-AE (denoising)", "dcae", "denoise", {}),
]


def gains(den: Denoiser, cal) -> list[float]:
    out = []
    for snr in (25.0, 30.0, 35.0):
        d = synthesize(cal, DatasetConfig(per_k=300, snrs_db=(snr,), seed=2026))
        clean = d.clean.astype(np.float64)
        out.append(float(np.mean(snr_db(clean, den(d.noisy).astype(np.float64))) - np.mean(snr_db(clean, d.noisy.astype(np.float64)))))
    return out


def latency_ms(den: Denoiser, cal, n: int = 500) -> float:
    x = synthesize(cal, DatasetConfig(per_k=n // 3 + 1, snrs_db=(30.0,), seed=5)).noisy[:n]
    for s in x[:20]:
        den(s)
    t = time.perf_counter()
    for s in x:
        den(s)
    return (time.perf_counter() - t) / len(x) * 1e3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-k", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args(argv)
    cal = reference.load_reference()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, arch, objective, overrides in RUNS:
            ckpt, onnx_path = Path(tmp) / arch, Path(tmp) / f"{arch}.onnx"
            t0 = time.perf_counter()
            meta = train(cal, ckpt, arch=arch, objective=objective, overrides=overrides, data_config=DatasetConfig(per_k=args.per_k),
                         train_config=TrainConfig(epochs=args.epochs, patience=4, optimizer="lbfgs" if arch == "linear" else "adam"), log=lambda s: None)
            export(ckpt, onnx_path)
            den = Denoiser(onnx_path)
            rows.append([label, *[round(g, 2) for g in gains(den, cal)], meta["parameters"], f"{onnx_path.stat().st_size / 1e3:.0f} kB",
                         round(latency_ms(den, cal), 3), f"{time.perf_counter() - t0:.0f} s"])
            print(rows[-1], file=sys.stderr, flush=True)
        import torch  # noqa: F401 - the CAE row reads the shipped checkpoint for its parameter count

        from training import checkpoint

        model, _ = checkpoint.load(CAE_CHECKPOINT)
        den = Denoiser(DEFAULT_MODEL_PATH)
        rows.append(["CAE (shipped: hybrid, 25/30/36 dB, 40 epochs)", *[round(g, 2) for g in gains(den, cal)], parameter_count(model),
                     f"{DEFAULT_MODEL_PATH.stat().st_size / 1e3:.0f} kB", round(latency_ms(den, cal), 3), "—"])
    print(f"machine: {machine()}; {args.per_k * 6:,} training samples, ≤ {args.epochs} epochs each\n")
    print(table(["backbone", "gain 25 dB", "gain 30 dB", "gain 35 dB", "parameters", "ONNX", "per-sweep (ms)", "train + export"], rows))


if __name__ == "__main__":
    main()
