"""The paper-sized training run and the side-by-side evaluation of its model.

    python benchmarks/bench_training.py [--epochs 40] [--out runs/bench-cae]

Trains the CAE (defaults of ``spectro train``) on the paper's 60,000 samples for the
reference device, reports wall time and validation loss (target: converged in ≤ 15 min on
the 2-core machine), then runs ``spectro evaluate`` on it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from calibration import reference  # noqa: E402
from spectro.cli import main as spectro  # noqa: E402
from training.train import TrainConfig, train  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--out", default="runs/bench-cae")
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    t = time.monotonic()
    meta = train(reference.load_reference(), out, train_config=TrainConfig(epochs=args.epochs))
    print(f"\ntraining: {meta['epochs_run']} epochs, best validation loss {meta['final_validation_loss']:.4f} at epoch "
          f"{meta['best_epoch']}, {(time.monotonic() - t) / 60:.1f} min wall time ({meta['parameters']:,} parameters)\n")
    spectro(["evaluate", "--model", str(out), "--out", str(out / "evaluation.md"), "--png", str(out / "evaluation.png"), "--overwrite"])


if __name__ == "__main__":
    main()
