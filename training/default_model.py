"""The default denoiser shipped for the reference device, and how to regenerate it.

    python -m training.default_model [--epochs 40] [--export-only]

Trains the CAE with the defaults of ``spectro train`` (hybrid, window rank 7) on the paper's
60,000 samples for the shipped reference calibration, seed 0, and writes the checkpoint to
``training/data/reference_cae/``, then exports and verifies the ONNX model the runtime ships,
``spectro/data/reference_cae.onnx``. Measured results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from calibration import reference
from spectro.denoiser import DEFAULT_MODEL_PATH as DEFAULT_ONNX_PATH
from training.export import export
from training.train import TrainConfig, train

DEFAULT_MODEL_PATH = Path(__file__).with_name("data") / "reference_cae"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--export-only", action="store_true", help="re-export the ONNX model from the existing checkpoint")
    args = ap.parse_args(argv)
    cal = reference.load_reference()
    if not args.export_only:
        train(cal, DEFAULT_MODEL_PATH, train_config=TrainConfig(epochs=args.epochs, seed=0), overwrite=True)
    report = export(DEFAULT_MODEL_PATH, DEFAULT_ONNX_PATH, cal=cal, overwrite=True)
    print(f"wrote {DEFAULT_MODEL_PATH} and {report['path']} ({report['bytes'] / 1e6:.2f} MB, verified)")


if __name__ == "__main__":
    main()
