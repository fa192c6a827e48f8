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

INPUT, OUTPUTS = "interferogram", ("noise", "denoised")
FORMAT = "1"
REQUIRED_METADATA = ("spectro.format", "calibration_id", "normalisation", "architecture", "training_snrs_db", "package_version", "model_sha256")
DEFAULT_MODEL_PATH = Path(__file__).with_name("data") / "reference_cae.onnx"


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Denoiser:
    """Load a model written by ``spectro export`` and denoise sweeps with it.

    ``mode="sweep"``: one intra-op thread, sequential execution, no spinning — the lowest
    latency for one sweep at a time beside an acquisition loop. ``mode="batch"``: use
    ``threads`` cores (default: all) for large batches.

    ``calibration_id``: the calibration in use; a model made for another one is refused
    unless ``force``.
    """

    def __init__(self, path: str | os.PathLike, *, calibration_id: str | None = None, force: bool = False,
                 mode: str = "sweep", threads: int | None = None):
        import onnxruntime as ort  # imported here: reading a recording must not need it

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFormatError(f"model {self.path} does not exist (expected an ONNX file written by spectro export)")
        if mode not in ("sweep", "batch"):
            raise ValueError(f"mode must be 'sweep' or 'batch', got {mode!r}")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if mode == "sweep":
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        else:
            opts.intra_op_num_threads = int(threads or os.cpu_count() or 1)
        try:
            self.session = ort.InferenceSession(os.fspath(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own classes for every kind of bad file
            raise ModelFormatError(f"{self.path} is not a loadable ONNX model ({str(exc).splitlines()[0][:200]})") from None
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
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or inputs[0].name != INPUT:
            raise ModelFormatError(f"{self.path}: expected one input {INPUT!r}, got {[i.name for i in inputs]}")
        inp = inputs[0]
        if inp.type != "tensor(float)" or len(inp.shape) != 2 or not isinstance(inp.shape[1], int):
            raise ModelFormatError(f"{self.path}: input {INPUT!r} must be float32 (batch, V) with fixed V, got {inp.type} {inp.shape}")
        names = [o.name for o in outputs]
        if tuple(names) != OUTPUTS:
            raise ModelFormatError(f"{self.path}: expected outputs {list(OUTPUTS)}, got {names}")
        return int(inp.shape[1])

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
        if not isinstance(sweeps, np.ndarray):
            raise TypeError(f"sweeps must be a numpy array, got {type(sweeps).__name__}")
        if sweeps.dtype != np.float32:
            raise TypeError(f"sweeps must be float32 (the model's input type), got {sweeps.dtype}; convert with .astype(np.float32)")
        single = sweeps.ndim == 1
        x = sweeps[None, :] if single else sweeps
        if x.ndim != 2 or x.shape[1] != self.length:
            raise ValueError(f"sweeps must have shape (N, {self.length}) or ({self.length},), got {sweeps.shape}")
        if len(x) == 0:
            return np.empty_like(x), np.empty_like(x)
        noise, denoised = self.session.run(list(OUTPUTS), {INPUT: np.ascontiguousarray(x)})
        return (noise[0], denoised[0]) if single else (noise, denoised)

    def __call__(self, sweeps: np.ndarray) -> np.ndarray:
        """Denoised sweeps."""
        return self.run(sweeps)[1]
