"""Training of the noise-predicting CAE: the paper's objective, made reproducible.

    minimise (1/M) Σ MSE(e_i, ê_i),  e_i = I_i − Ia_i,  measured in units of the per-sample
    scale / noise_gain (the model's normalisation), so every sample counts alike.

Adam; the learning rate drops ×0.3 whenever the validation loss stalls for 2 epochs, and
training stops after ``patience`` epochs without a better validation loss (the best weights
are kept); deterministic under a seed.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from calibration.matrix import Calibration
from calibration.noise import NoiseModel
from training import checkpoint
from training.dataset import DatasetConfig, synthesize
from training.models import CAEConfig, NoiseCAE, parameter_count


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    val_fraction: float = 0.1
    patience: int = 6  # epochs without a better validation loss before stopping
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def normalised_loss(model: NoiseCAE, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    scale = torch.sqrt(torch.mean(x * x, dim=1, keepdim=True)).clamp_min(1e-12)
    gain = model.config.noise_gain / scale
    return torch.mean(((model(x) - e) * gain) ** 2)


@torch.no_grad()
def evaluate_loss(model: NoiseCAE, x: torch.Tensor, e: torch.Tensor, batch: int = 4096) -> float:
    model.eval()
    total = sum(normalised_loss(model, x[i:i + batch], e[i:i + batch]).item() * len(x[i:i + batch]) for i in range(0, len(x), batch))
    return total / len(x)


def train(
    cal: Calibration,
    out_dir,
    *,
    model_config: CAEConfig = CAEConfig(),
    data_config: DatasetConfig = DatasetConfig(),
    train_config: TrainConfig = TrainConfig(),
    noise_model: NoiseModel | None = None,
    overwrite: bool = False,
    threads: int | None = None,
    log=None,
) -> dict:
    """Train a CAE for ``cal`` and write its checkpoint folder to ``out_dir``. Returns meta.
    ``threads`` sets torch's intra-op threads (default: its own choice, all cores)."""
    from spectro import __version__

    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    checkpoint.check_output(out_dir, overwrite)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(train_config.seed)
    np.random.seed(train_config.seed)
    torch.use_deterministic_algorithms(True)
    model_config = dataclasses.replace(model_config, length=cal.n_voltages, n_wavelengths=cal.n_wavelengths)
    data = synthesize(cal, data_config, noise_model)
    tr, va = data.split(train_config.val_fraction, train_config.seed)
    xt, et = torch.from_numpy(tr.noisy), torch.from_numpy(tr.noise)
    xv, ev = torch.from_numpy(va.noisy), torch.from_numpy(va.noise)
    model = NoiseCAE(model_config)
    if model_config.window_rank:
        model.set_calibration(cal.matrix, cal.dark)
    opt = torch.optim.Adam(model.parameters(), lr=train_config.lr)
    steps_per_epoch = math.ceil(len(xt) / train_config.batch_size)
    # Lower the rate when the validation loss stalls; stop when even that no longer helps.
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=2)
    gen = torch.Generator().manual_seed(train_config.seed)
    best, best_state, best_epoch, history = math.inf, None, 0, []
    log(f"training CAE ({parameter_count(model):,} parameters) on {len(xt):,} samples, validating on {len(xv):,}")
    t0 = time.monotonic()
    for epoch in range(1, train_config.epochs + 1):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        running = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * train_config.batch_size:(b + 1) * train_config.batch_size]
            loss = normalised_loss(model, xt[idx], et[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += loss.item() * len(idx)
        train_loss = running / len(xt)
        val_loss = evaluate_loss(model, xv, ev)
        sched.step(val_loss)
        history.append({"epoch": epoch, "train": train_loss, "val": val_loss, "lr": opt.param_groups[0]["lr"]})
        if val_loss < best:
            best, best_epoch = val_loss, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        per_epoch = (time.monotonic() - t0) / epoch
        log(f"epoch {epoch:3d}/{train_config.epochs}  train {train_loss:.4f}  val {val_loss:.4f}  best {best:.4f}"
            f"  {per_epoch:5.1f} s/epoch  ETA {per_epoch * (train_config.epochs - epoch) / 60:4.1f} min")
        if epoch - best_epoch >= train_config.patience:
            log(f"early stop: no better validation loss for {train_config.patience} epochs")
            break
    model.load_state_dict(best_state)
    meta = {
        "calibration_id": cal.calibration_id, "device": cal.device, "package_version": __version__,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "training_snrs_db": list(data_config.snrs_db), "dataset": data_config.to_dict() | {"samples": len(data), "train": len(xt), "validation": len(xv)},
        "noise_model": noise_model.to_dict() if noise_model else None, "train": train_config.to_dict(),
        "final_validation_loss": best, "best_epoch": best_epoch, "epochs_run": len(history), "seconds": time.monotonic() - t0,
        "parameters": parameter_count(model), "history": history,
        "loss": "mean((ê − e) · noise_gain / rms(x))²",
    }
    checkpoint.save(model.eval(), meta, out_dir, overwrite=overwrite)
    log(f"wrote {out_dir} (validation loss {best:.4f} at epoch {best_epoch}, {meta['seconds'] / 60:.1f} min)")
    return meta
