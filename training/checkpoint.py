"""Checkpoints: a folder with config.json (architecture + normalisation), weights.pt (a
plain state dict, loaded with ``weights_only=True`` — never unpickled code) and meta.json
(device, data, training record, and the weights' SHA-256, checked on load).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import torch

from calibration.errors import ModelFormatError, OutputExistsError, SpectroError
from training.models import CAEConfig, NoiseCAE

FILES = ("config.json", "weights.pt", "meta.json")
FORMAT_VERSION = 1


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_output(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fail before any work if the checkpoint folder cannot be written as asked."""
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; refusing to overwrite it (pass --overwrite to replace it)")
    if not out.parent.is_dir():
        raise SpectroError(f"cannot write {out}: directory {out.parent} does not exist")
    return out


def save(model, meta: dict, out_dir: str | os.PathLike, *, overwrite: bool = False, arch: str | None = None, objective: str = "noise") -> Path:
    """Write the checkpoint folder atomically (a temporary sibling, then a rename)."""
    out = check_output(out_dir, overwrite)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        if arch is None:
            if not isinstance(model, NoiseCAE):
                raise ValueError(f"save a {type(model).__name__} with arch= (a name in training.backbones.REGISTRY)")
            arch = "cae"
        if arch == "cae":
            norm = {"kind": "rms", "noise_gain": model.config.noise_gain,
                    "contract": "scale = sqrt(mean(x^2)); noise = net(x/scale) * scale / noise_gain; denoised = x - noise"}
        else:
            kind = getattr(model.config, "normalise", "rms")
            norm = {"kind": kind, "scale": getattr(model.config, "scale", 1.0),
                    "contract": "s = sqrt(mean(x^2)) (rms) or the fixed scale; recon = decoder(encoder(x/s)) * s"}
        config = {"format": FORMAT_VERSION, "arch": arch, "objective": objective, "model": model.config.to_dict(), "normalisation": norm}
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp / "weights.pt")
        meta = {**meta, "weights_sha256": _sha256(tmp / "weights.pt")}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out


def load(path: str | os.PathLike, *, calibration_id: str | None = None, force: bool = False) -> tuple[NoiseCAE, dict]:
    """Load and verify a checkpoint → (model in eval mode, meta). Every problem is one
    :class:`ModelFormatError`; a model trained for another calibration is refused unless
    ``force``."""
    d = Path(path)
    if not d.is_dir():
        raise ModelFormatError(f"checkpoint {d} is not a folder (expected {', '.join(FILES)})")
    missing = [f for f in FILES if not (d / f).is_file()]
    if missing:
        raise ModelFormatError(f"checkpoint {d} lacks {missing}")
    try:
        config = json.loads((d / "config.json").read_text())
        meta = json.loads((d / "meta.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"checkpoint {d}: unreadable JSON ({exc})") from exc
    from training.backbones import REGISTRY

    arch = config.get("arch")
    if arch not in REGISTRY:
        raise ModelFormatError(f"checkpoint {d}: unknown architecture {arch!r}; valid: {', '.join(REGISTRY)}")
    cfg_cls, model_cls, _ = REGISTRY[arch]
    if arch == "cae":  # stored unwrapped (the shipped checkpoint predates the registry)
        cfg_cls, model_cls = CAEConfig, NoiseCAE
    try:
        cfg = cfg_cls.from_dict(config["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"checkpoint {d}: bad model config ({exc})") from exc
    if meta.get("weights_sha256") != _sha256(d / "weights.pt"):
        raise ModelFormatError(f"checkpoint {d}: weights.pt does not match the SHA-256 in meta.json (modified or corrupted)")
    try:
        state = torch.load(d / "weights.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a format error
        raise ModelFormatError(f"checkpoint {d}: weights.pt is not a plain state dict ({exc})") from exc
    model = model_cls(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFormatError(f"checkpoint {d}: config.json does not match weights.pt ({str(exc).splitlines()[0]})") from exc
    trained_for = meta.get("calibration_id")
    if calibration_id is not None and trained_for != calibration_id and not force:
        raise ModelFormatError(f"checkpoint {d} was trained for calibration {trained_for}, not {calibration_id}; pass --force to use it anyway")
    meta.setdefault("arch", arch)
    meta.setdefault("objective", config.get("objective", "noise"))
    return model.eval(), meta
