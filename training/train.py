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
from training import backbones, checkpoint
from training.dataset import DatasetConfig, synthesize
from training.models import CAEConfig, NoiseCAE, parameter_count
from training.objectives import OBJECTIVES
from training.objectives import loss as objective_loss


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    val_fraction: float = 0.1
    patience: int = 6  # epochs without a better validation loss before stopping
    seed: int = 0
    # "lbfgs": full-batch L-BFGS, one epoch = one L-BFGS step of up to 20 iterations. For the
    # linear AE: Adam stalls ~9 % above the PCA error in near-degenerate eigen-directions.
    optimizer: str = "adam"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def fit(model, batch_loss, train_set: tuple, val_set: tuple, train_config: TrainConfig, log) -> tuple[float, int, list, float]:
    """Adam + reduce-on-plateau + early stopping; leaves the best weights in ``model``.

    ``train_set``/``val_set``: (noisy, clean, noise) tensors (clean or noise may be None);
    ``batch_loss(model, noisy, clean, noise)``. Returns (best validation loss, its epoch,
    per-epoch history, seconds)."""
    n = len(train_set[0])
    opt = torch.optim.Adam(model.parameters(), lr=train_config.lr)
    steps_per_epoch = math.ceil(n / train_config.batch_size)
    # Lower the rate when the validation loss stalls; stop when even that no longer helps.
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=2)
    gen = torch.Generator().manual_seed(train_config.seed)
    best, best_state, best_epoch, history = math.inf, None, 0, []

    def take(tensors, idx):
        return [None if t is None else t[idx] for t in tensors]

    @torch.no_grad()
    def validate() -> float:
        model.eval()
        m = len(val_set[0])
        return sum(batch_loss(model, *take(val_set, slice(i, i + 4096))).item() * min(4096, m - i) for i in range(0, m, 4096)) / m

    if train_config.optimizer == "lbfgs":
        opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=20, history_size=50, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-12, tolerance_change=1e-15)
    elif train_config.optimizer != "adam":
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {train_config.optimizer!r}")

    def full_batch():
        opt.zero_grad(set_to_none=True)
        loss = batch_loss(model, *train_set)
        loss.backward()
        return loss

    t0 = time.monotonic()
    for epoch in range(1, train_config.epochs + 1):
        model.train()
        if train_config.optimizer == "lbfgs":
            train_loss = float(opt.step(full_batch).detach())
        else:
            perm = torch.randperm(n, generator=gen)
            running = 0.0
            for b in range(steps_per_epoch):
                idx = perm[b * train_config.batch_size:(b + 1) * train_config.batch_size]
                loss = batch_loss(model, *take(train_set, idx))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                running += loss.item() * len(idx)
            train_loss = running / n
        val_loss = validate()
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
    return best, best_epoch, history, time.monotonic() - t0


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
    arch: str = "cae",
    objective: str | None = None,
    overrides: dict | None = None,
) -> dict:
    """Train a backbone for ``cal`` and write its checkpoint folder to ``out_dir``. Returns
    meta. ``arch``: a name in :data:`training.backbones.REGISTRY` (``cae``: the paper's CAE,
    configured by ``model_config``; others by ``overrides`` of their config); ``objective``
    defaults to the backbone's own. ``threads`` sets torch's intra-op threads."""
    from spectro import __version__

    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    checkpoint.check_output(out_dir, overwrite)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(train_config.seed)
    np.random.seed(train_config.seed)
    torch.use_deterministic_algorithms(True)
    data = synthesize(cal, data_config, noise_model)
    tr, va = data.split(train_config.val_fraction, train_config.seed)
    as_t = torch.from_numpy
    train_set, val_set = (as_t(tr.noisy), as_t(tr.clean), as_t(tr.noise)), (as_t(va.noisy), as_t(va.clean), as_t(va.noise))
    if arch == "cae":
        model_config = dataclasses.replace(model_config, length=cal.n_voltages, n_wavelengths=cal.n_wavelengths)
        model = NoiseCAE(model_config)
        if model_config.window_rank:
            model.set_calibration(cal.matrix, cal.dark)
        objective = "noise"
    else:
        model = backbones.build(arch, **{"length": cal.n_voltages, **(overrides or {})})
        objective = objective or backbones.REGISTRY[arch][2]
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    if objective == "vae" and arch != "vae":
        raise ValueError(f"the vae objective needs the vae backbone, not {arch!r}")
    if objective == "noise" and arch != "cae":
        raise ValueError(f"the noise objective needs the cae backbone (it predicts noise), not {arch!r}")
    log(f"training {arch} ({objective}, {parameter_count(model):,} parameters) on {len(tr):,} samples, validating on {len(va):,}")
    best, best_epoch, history, seconds = fit(model, lambda m, x, c, e: objective_loss(objective, m, x, c, e), train_set, val_set, train_config, log)
    xt, xv = train_set[0], val_set[0]
    meta = {
        "calibration_id": cal.calibration_id, "device": cal.device, "package_version": __version__,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "training_snrs_db": list(data_config.snrs_db), "dataset": data_config.to_dict() | {"samples": len(data), "train": len(xt), "validation": len(xv)},
        "noise_model": noise_model.to_dict() if noise_model else None, "train": train_config.to_dict(),
        "final_validation_loss": best, "best_epoch": best_epoch, "epochs_run": len(history), "seconds": seconds,
        "parameters": parameter_count(model), "history": history,
        "loss": objective, "arch": arch, "objective": objective,
    }
    checkpoint.save(model.eval(), meta, out_dir, overwrite=overwrite, arch=arch, objective=objective)
    log(f"wrote {out_dir} (validation loss {best:.4f} at epoch {best_epoch}, {meta['seconds'] / 60:.1f} min)")
    return meta
