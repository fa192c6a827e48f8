"""Faulty-sweep detection, the M-LDAE recipe, and the detector shipped for the reference device.

    python -m training.anomaly [--out DIR] [--onnx PATH]      # trains, reports, exports

1. An autoencoder (the ``ae`` backbone, fixed input scale so the raw level stays visible)
   learns normal sweeps (split S1): line mixtures and broadband light (bands, lamps) at
   25–40 dB, levels within ±40 %.
2. The score is its reconstruction error, mean((x̂ − x)²) / scale². The threshold is the
   (1 − false-alarm) quantile of the scores of held-out normal sweeps (S2).
3. S3 — fresh normal sweeps plus each injected fault (:mod:`training.faults`) — gives the
   detection rate per fault and the false-alarm rate.
4. Second stage: the frozen encoder's latent code and the log-score feed a small classifier
   that names the fault (trained on S1-like sweeps with injected faults, new seeds).

The exported ONNX graph (``spectro.kind`` = ``fault-detector``) takes raw interferograms and
returns ``score`` (N,) and ``fault_probs`` (N, 6: normal + 5 faults); the threshold and the
class names are in its metadata; :class:`spectro.anomaly.FaultDetector` runs it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from calibration import reference, sources
from calibration.config import StrictConfig
from calibration.matrix import Calibration, padded_q
from calibration.noise import white_noise_sigma
from calibration.physics import DeviceParams
from spectro.anomaly import DEFAULT_DETECTOR_PATH
from training import backbones
from training.faults import CLASSES, FAULTS, inject
from training.train import TrainConfig, fit


@dataclass(frozen=True)
class DetectorConfig(StrictConfig):
    per_split: int = 4000  # normal sweeps in each of S1, S2, S3
    faults_per_kind: int = 1000  # per fault type in S3 (and in the classifier's training set)
    snrs_db: tuple[float, ...] = (25.0, 30.0, 35.0, 40.0)
    # The linear AE of rank 56 (the calibration's span) was measured best: nonlinear AEs with
    # 12–56 latents, trained with Adam, left thresholds 60–300× higher (docs/benchmarks.md).
    arch: str = "linear"
    latent: int = 56
    hidden: tuple[int, ...] = (128, 64)  # "ae" only
    optimizer: str = "lbfgs"
    power_range: tuple[float, float] = (0.8, 1.2)  # normal sources: total power varies ±20 %
    false_alarm: float = 0.001
    epochs: int = 40
    seed: int = 0

    _kind = "detector config"

    def __post_init__(self):
        object.__setattr__(self, "snrs_db", tuple(float(s) for s in self.snrs_db))
        object.__setattr__(self, "power_range", tuple(float(p) for p in self.power_range))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if not 0 < self.false_alarm < 0.5:
            raise ValueError(f"false_alarm must be in (0, 0.5), got {self.false_alarm}")


def normal_sweeps(cal: Calibration, n: int, snrs_db, rng: np.random.Generator, power_range=(0.8, 1.2)):
    """(noisy, clean, rows): half line mixtures of one calibration window (2–4 lines, random
    amplitudes), half broadband (Gaussian bands 2–60 nm wide, lamps); total power in
    ``power_range`` (a bench source is stable to about that)."""
    Q = padded_q(cal.matrix.astype(np.float64))
    wl = cal.wavelength_nm
    n_lines = n // 2
    k = rng.integers(2, 5, n_lines)
    start = rng.integers(0, cal.n_wavelengths, n_lines)
    offsets = np.argsort(rng.random((n_lines, 101)), axis=1)[:, :4]
    rows = np.where(np.arange(4)[None, :] < k[:, None], start[:, None] + offsets, -1)
    amps = np.where(rows >= 0, rng.uniform(0.5, 1.0, rows.shape), 0.0)
    amps *= rng.uniform(*power_range, (n_lines, 1)) / amps.sum(axis=1, keepdims=True)
    lines = np.einsum("nk,nkv->nv", amps, Q[np.maximum(rows, 0)])
    broad = []
    for _ in range(n - n_lines):
        power = rng.uniform(*power_range)
        if rng.random() < 0.2:
            s = sources.lamp(wl, power, rng.uniform(2200, 3200))
        else:
            m = int(rng.integers(1, 4))
            s = sum(sources.gaussian_band(wl, rng.uniform(1480, 1630), rng.uniform(2, 60), power / m) for _ in range(m))
        broad.append(s @ cal.matrix.astype(np.float64))
    clean = np.concatenate([lines, np.array(broad).reshape(-1, cal.n_voltages)]) + cal.dark
    rows = np.concatenate([rows, np.full((n - n_lines, 4), -1)])
    snr = rng.choice(np.asarray(snrs_db), n)
    noisy = clean + white_noise_sigma(clean, snr) * rng.standard_normal(clean.shape)
    return noisy, clean, rows


def faulty(kind: str, cal: Calibration, params: DeviceParams, n: int, snrs_db, rng: np.random.Generator, power_range=(0.8, 1.2)) -> np.ndarray:
    """n sweeps with fault ``kind``. Calibration drift needs line mixtures (rows), so those
    are drawn from the line half only."""
    noisy, clean, rows = normal_sweeps(cal, 2 * n if kind == "calibration_drift" else n, snrs_db, rng, power_range)
    if kind == "calibration_drift":
        noisy, clean, rows = noisy[:n], clean[:n], rows[:n]
    return inject(kind, noisy, clean, rows, params, cal.dark, rng)


LEVEL_WEIGHT = 10.0  # a level 10 % outside the normal range scores 0.1, ~50× the usual threshold


class Detector(nn.Module):
    """AE + frozen-encoder classifier in one graph: interferogram → (score, fault_probs)."""

    def __init__(self, ae: backbones.MLPAutoencoder, level_range: tuple[float, float] = (0.0, 1e9), n_classes: int = len(CLASSES), width: int = 64):
        super().__init__()
        self.ae = ae
        # The raw level (mean / input scale) of normal sweeps; leaving this range adds to the
        # score (a loose fibre keeps the fringes' shape, so only the level betrays it).
        self.register_buffer("level_range", torch.tensor(level_range, dtype=torch.float32))
        self.classifier = nn.Sequential(nn.Linear(ae.config.latent + 2, width), nn.GELU(), nn.Linear(width, width), nn.GELU(), nn.Linear(width, n_classes))

    def score(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(score (N,), features (N, latent + 1)): reconstruction error + level penalty."""
        out = self.ae(x)
        level = torch.mean(x, dim=1) / self.ae.config.scale
        outside = torch.relu(self.level_range[0] - level) + torch.relu(level - self.level_range[1])
        err = torch.mean((out.recon - x) ** 2, dim=1) / self.ae.config.scale**2
        return err + LEVEL_WEIGHT * outside**2, torch.cat([out.latent, level.unsqueeze(1)], dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        s, feats = self.score(x)
        return self.classifier(torch.cat([feats, torch.log(s + 1e-12).unsqueeze(1)], dim=1))

    def forward(self, interferogram: torch.Tensor):
        s, feats = self.score(interferogram)
        logits = self.classifier(torch.cat([feats, torch.log(s + 1e-12).unsqueeze(1)], dim=1))
        return s, torch.softmax(logits, dim=1)


def train_detector(cal: Calibration, params: DeviceParams, config: DetectorConfig = DetectorConfig(), log=None) -> tuple[Detector, dict]:
    """Train, set the threshold, evaluate; returns (detector, report)."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    s1, _, _ = normal_sweeps(cal, config.per_split, config.snrs_db, rng, config.power_range)
    s2, _, _ = normal_sweeps(cal, config.per_split, config.snrs_db, rng, config.power_range)
    s3, _, _ = normal_sweeps(cal, config.per_split, config.snrs_db, rng, config.power_range)
    scale = float(np.median(np.sqrt(np.mean(s1**2, axis=1))))
    extra = {"hidden": config.hidden} if config.arch == "ae" else {}
    ae = backbones.build(config.arch, length=cal.n_voltages, latent=config.latent, normalise="fixed", scale=scale, **extra)
    x1 = torch.from_numpy(s1.astype(np.float32))
    n_val = len(x1) // 10
    log(f"stage 1: autoencoder on {len(x1) - n_val} normal sweeps")
    fit(ae, lambda m, x, c, e: torch.mean(((m(x).recon - x) / scale) ** 2), (x1[n_val:], None, None), (x1[:n_val], None, None),
        TrainConfig(epochs=config.epochs, batch_size=128, lr=2e-3, patience=8, seed=config.seed, optimizer=config.optimizer), log)
    level = np.mean(s1, axis=1) / scale
    det = Detector(ae.eval(), (float(np.quantile(level, 0.0005)), float(np.quantile(level, 0.9995))))

    def scores(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return det.score(torch.from_numpy(x.astype(np.float32)))[0].double().numpy()

    threshold = float(np.quantile(scores(s2), 1 - config.false_alarm))
    # Stage 2: the classifier on the frozen encoder (new sweeps, every class).
    log("stage 2: fault classifier on the frozen encoder")
    train_x = [normal_sweeps(cal, config.faults_per_kind, config.snrs_db, rng, config.power_range)[0]] + [faulty(k, cal, params, config.faults_per_kind, config.snrs_db, rng, config.power_range) for k in FAULTS]
    xs = torch.from_numpy(np.concatenate(train_x).astype(np.float32))
    ys = torch.from_numpy(np.repeat(np.arange(len(CLASSES)), config.faults_per_kind))
    for p in det.ae.parameters():
        p.requires_grad_(False)
    perm = torch.randperm(len(xs), generator=torch.Generator().manual_seed(config.seed))
    xs, ys = xs[perm], ys[perm]
    n_val = len(xs) // 10
    ce = nn.CrossEntropyLoss()

    def cls_loss(m, x, y, _):
        return ce(m.logits(x), y)

    fit(det, cls_loss, (xs[n_val:], ys[n_val:], None), (xs[:n_val], ys[:n_val], None),
        TrainConfig(epochs=config.epochs, batch_size=128, lr=2e-3, patience=8, seed=config.seed), log)
    det.eval()
    # S3: fresh normal sweeps and fresh faults.
    test = {"normal": s3, **{k: faulty(k, cal, params, config.faults_per_kind, config.snrs_db, rng, config.power_range) for k in FAULTS}}
    report = {"threshold": threshold, "scale": scale, "false_alarm_target": config.false_alarm, "classes": list(CLASSES), "detection": {}}
    confusion = np.zeros((len(CLASSES), len(CLASSES)), int)
    for i, (name, x) in enumerate(test.items()):
        with torch.no_grad():
            s, probs = det(torch.from_numpy(x.astype(np.float32)))
        flagged = s.numpy() > threshold
        report["detection"][name] = float(flagged.mean())
        for j in probs.argmax(dim=1).numpy():
            confusion[i, j] += 1
    report["false_alarm_rate"] = report["detection"].pop("normal")
    report["confusion"] = confusion.tolist()
    report["classification_accuracy"] = float(np.trace(confusion) / confusion.sum())
    return det, report


def markdown(report: dict) -> str:
    lines = [f"threshold {report['threshold']:.3g} (false-alarm target {100 * report['false_alarm_target']:g} % on S2); "
             f"false alarms on fresh normal sweeps (S3): **{100 * report['false_alarm_rate']:.2f} %**\n",
             "| fault | detected |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {100 * v:.1f} % |" for k, v in report["detection"].items()]
    cls = report["classes"]
    lines += ["", "Confusion matrix of the second stage (rows: true, columns: predicted; S3 sweeps):", "",
              "| true \\ predicted | " + " | ".join(c.replace("_", " ") for c in cls) + " |", "|---" * (len(cls) + 1) + "|"]
    lines += [f"| {c.replace('_', ' ')} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(cls, report["confusion"])]
    lines.append(f"\nclassification accuracy {100 * report['classification_accuracy']:.1f} %")
    return "\n".join(lines)


def export_detector(det: Detector, report: dict, cal: Calibration, out, *, overwrite: bool = False) -> dict:
    """Verified ONNX export (checker, onnxruntime and reference parity) with the metadata the
    runtime needs; atomic, nothing left behind on failure."""
    from onnx import helper

    from calibration.fileio import atomic_output, check_output
    from spectro import __version__
    from spectro.anomaly import FORMAT, INPUT, OUTPUTS
    from training.export import graph_sha256, to_onnx_graph, verify_outputs

    check_output(out, overwrite)
    proto = to_onnx_graph(det, cal.n_voltages, INPUT, OUTPUTS)
    props = {"spectro.kind": "fault-detector", "spectro.format": FORMAT, "calibration_id": cal.calibration_id, "device": cal.device,
             "threshold": repr(report["threshold"]), "classes": json.dumps(report["classes"]), "input_scale": repr(report["scale"]),
             "false_alarm_target": repr(report["false_alarm_target"]), "architecture": json.dumps({"arch": "detector", **det.ae.config.to_dict()}),
             "package_version": __version__, "model_sha256": graph_sha256(proto)}
    helper.set_model_props(proto, props)
    checks = verify_outputs(proto, lambda x: tuple(t.double().numpy() for t in det(torch.from_numpy(x))), cal.n_voltages, INPUT, OUTPUTS)
    with atomic_output(out, overwrite) as tmp:
        Path(tmp).write_bytes(proto.SerializeToString())
    return {"checks": checks, "bytes": Path(out).stat().st_size, "model_sha256": props["model_sha256"]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Train, evaluate and export the reference device's faulty-sweep detector.")
    ap.add_argument("--onnx", default=str(DEFAULT_DETECTOR_PATH), help="ONNX file to write (default: the one shipped in the package)")
    ap.add_argument("--per-split", type=int, default=DetectorConfig.per_split)
    ap.add_argument("--faults-per-kind", type=int, default=DetectorConfig.faults_per_kind)
    ap.add_argument("--epochs", type=int, default=DetectorConfig.epochs)
    ap.add_argument("--report", help="also write the Markdown report here")
    ap.add_argument("--arch", choices=["linear", "ae"], default=DetectorConfig.arch, help="stage-1 autoencoder (ae: nonlinear, Adam)")
    ap.add_argument("--latent", type=int, default=DetectorConfig.latent)
    args = ap.parse_args(argv)
    cal, params = reference.load_reference(), reference.reference_params()
    cfg = dataclasses.replace(DetectorConfig(), per_split=args.per_split, faults_per_kind=args.faults_per_kind, epochs=args.epochs,
                              arch=args.arch, latent=args.latent, optimizer="lbfgs" if args.arch == "linear" else "adam")
    det, report = train_detector(cal, params, cfg)
    text = markdown(report)
    print(text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    info = export_detector(det, report, cal, args.onnx, overwrite=True)
    print(f"\nwrote {args.onnx} ({info['bytes'] / 1e3:.0f} kB, verified)")


if __name__ == "__main__":
    main()
