"""How the hybrid CAE should choose its calibration window: by the energy of all r = 7
window directions, or of the leading few. Projection alone and the shipped CAE, same
weights, 900 fresh mixtures per SNR; and how close the best two windows' energies are.

    python benchmarks/bench_window_select.py
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from calibration import reference  # noqa: E402
from calibration.noise import snr_db  # noqa: E402
from training import checkpoint  # noqa: E402
from training.dataset import DatasetConfig, synthesize  # noqa: E402
from training.default_model import DEFAULT_MODEL_PATH  # noqa: E402


def main() -> None:
    cal = reference.load_reference()
    model, _ = checkpoint.load(DEFAULT_MODEL_PATH)
    rows, margins = [], []
    for rs in (7, 5, 3, 1):
        model.config = dataclasses.replace(model.config, select_rank=rs)
        row = [rs]
        for snr in (25.0, 30.0, 35.0):
            d = synthesize(cal, DatasetConfig(per_k=300, snrs_db=(snr,), seed=2026))
            x, clean = torch.from_numpy(d.noisy), d.clean.astype(np.float64)
            base = np.mean(snr_db(clean, d.noisy.astype(np.float64)))
            with torch.no_grad():
                p, den = model.project(x).double().numpy(), model.denoise(x).double().numpy()
                if rs == 7 and snr == 30.0:
                    e = (torch.einsum("srl,bl->bsr", model.bases, x - model.dark) ** 2).sum(2)
                    top = e.topk(2, dim=1).values
                    margins = ((top[:, 0] - top[:, 1]) / top[:, 0]).numpy()
            row += [round(np.mean(snr_db(clean, p)) - base, 2), round(np.mean(snr_db(clean, den)) - base, 2)]
        rows.append(row)
    print(f"machine: {machine()}; shipped CAE weights, select_rank varied\n")
    print(table(["select rank", "projection 25", "CAE 25", "projection 30", "CAE 30", "projection 35", "CAE 35"], rows))
    print(f"\nrelative gap between the two best windows' energies (all 7 directions, 30 dB): median {np.median(margins):.1e}")


if __name__ == "__main__":
    main()
