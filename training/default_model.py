"""The default denoiser shipped for the reference device, and how to regenerate it.

    python -m training.default_model [--epochs 40]

Trains the CAE with the defaults of ``spectro train`` (hybrid, window rank 7) on the paper's
60,000 samples for the shipped reference calibration, seed 0, and writes the checkpoint to
``training/data/reference_cae/``. Measured results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from calibration import reference
from training.train import TrainConfig, train

DEFAULT_MODEL_PATH = Path(__file__).with_name("data") / "reference_cae"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args(argv)
    train(reference.load_reference(), DEFAULT_MODEL_PATH, train_config=TrainConfig(epochs=args.epochs, seed=0), overwrite=True)


if __name__ == "__main__":
    main()
