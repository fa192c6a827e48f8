"""The torch-free denoiser runtime: a self-contained ONNX model run by onnxruntime.

This module owns the model contract (what ``spectro export`` writes, what the device runs):

- one input ``interferogram``: (N, V) float32 raw sweeps, N dynamic;
- two outputs ``noise`` (the predicted noise ê) and ``denoised`` (x − ê), both (N, V) float32;
  the input normalisation and the subtraction are inside the graph;
- metadata (ONNX ``metadata_props``, all strings): ``spectro.format``, ``calibration_id``,
  ``device``, ``normalisation`` (JSON), ``architecture`` (JSON config), ``training_snrs_db``
  (JSON list), ``package_version``, ``created``, ``quantisation`` ("none" or "int8-qdq"), and
  ``model_sha256`` — SHA-256 of the graph (``ModelProto.graph`` serialised), i.e. the
  model's identity independent of its metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from calibration.errors import CalibrationError, ModelFormatError
from spectro.onnxrt import check_input, check_sweeps, open_session

INPUT, OUTPUTS = "interferogram", ("noise", "denoised")
FORMAT = "1"
REQUIRED_METADATA = ("spectro.format", "calibration_id", "normalisation", "architecture", "training_snrs_db", "package_version", "model_sha256")
DEFAULT_MODEL_PATH = Path(__file__).with_name("data") / "reference_cae.onnx"


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Denoiser:
    """Load a model written by ``spectro export`` and denoise sweeps with it.

    ``mode``: "sweep" (one thread, lowest latency per sweep) or "batch" (``threads`` cores,
    default all); see :func:`spectro.onnxrt.open_session`.

    ``calibration_id``: the calibration in use; a model made for another one is refused
    unless ``force``.
    """

    def __init__(self, path: str | os.PathLike, *, calibration_id: str | None = None, force: bool = False,
                 mode: str = "sweep", threads: int | None = None):
        self.path = Path(path)
        self.session = open_session(self.path, mode=mode, threads=threads, what="denoiser")
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        missing = [k for k in REQUIRED_METADATA if k not in self.metadata]
        if missing:
            raise ModelFormatError(f"{self.path} lacks the spectro metadata {missing}; export models with spectro export")
        if self.metadata["spectro.format"] != FORMAT:
            raise ModelFormatError(f"{self.path}: model format {self.metadata['spectro.format']!r}, this runtime reads {FORMAT!r}")
        self.length = self._check_io()
        self.forced = bool(force)  # the user accepted a calibration mismatch
        if calibration_id is not None and calibration_id != self.calibration_id and not force:
            raise CalibrationError(f"model {self.path.name} was trained for calibration {self.calibration_id}, "
                                   f"but calibration {calibration_id} is in use (pass --force to use it anyway)")

    def _check_io(self) -> int:
        length = check_input(self.session, self.path, INPUT)
        names = [o.name for o in self.session.get_outputs()]
        if tuple(names) != OUTPUTS:
            raise ModelFormatError(f"{self.path}: expected outputs {list(OUTPUTS)}, got {names}")
        return length

    @property
    def calibration_id(self) -> str:
        return self.metadata["calibration_id"]

    @property
    def model_hash(self) -> str:
        return self.metadata["model_sha256"]

    @property
    def architecture(self) -> dict:
        return json.loads(self.metadata["architecture"])

    def describe(self) -> dict:
        return {"path": os.fspath(self.path), "model_sha256": self.model_hash, "calibration_id": self.calibration_id,
                "device": self.metadata.get("device"), "quantisation": self.metadata.get("quantisation", "none"),
                "training_snrs_db": json.loads(self.metadata["training_snrs_db"]), "package_version": self.metadata["package_version"]}

    def run(self, sweeps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(noise, denoised) for sweeps (N, V) or (V,) float32; same shape as the input."""
        x, single = check_sweeps(sweeps, self.length)
        if len(x) == 0:
            return np.empty_like(x), np.empty_like(x)
        noise, denoised = self.session.run(list(OUTPUTS), {INPUT: x})
        return (noise[0], denoised[0]) if single else (noise, denoised)

    def __call__(self, sweeps: np.ndarray) -> np.ndarray:
        """Denoised sweeps."""
        return self.run(sweeps)[1]
