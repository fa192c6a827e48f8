"""onnxruntime sessions for the runtime's models (denoiser, fault detector), set up alike."""

from __future__ import annotations

import os
from pathlib import Path

from calibration.errors import CalibrationError, ModelFormatError


def open_session(path: str | os.PathLike, *, mode: str = "sweep", threads: int | None = None, what: str = "model"):
    """An onnxruntime session; every failure is one :class:`ModelFormatError`.

    ``mode="sweep"``: one intra-op thread, sequential execution, no spinning — the lowest
    latency for one sweep at a time beside an acquisition loop. ``mode="batch"``: ``threads``
    cores (default: all) for large batches.
    """
    import onnxruntime as ort  # imported here: reading a recording must not need it

    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"{what} {path} does not exist (expected an ONNX file)")
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
        return ort.InferenceSession(os.fspath(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own classes for every kind of bad file
        raise ModelFormatError(f"{path} is not a loadable ONNX {what} ({str(exc).splitlines()[0][:200]})") from None


def check_input(session, path, name: str) -> int:
    """The model's single input must be float32 (batch, V) named ``name``; returns V."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != name:
        raise ModelFormatError(f"{path}: expected one input {name!r}, got {[i.name for i in inputs]}")
    inp = inputs[0]
    if inp.type != "tensor(float)" or len(inp.shape) != 2 or not isinstance(inp.shape[1], int):
        raise ModelFormatError(f"{path}: input {name!r} must be float32 (batch, V) with fixed V, got {inp.type} {inp.shape}")
    return int(inp.shape[1])


def check_sweeps(sweeps, length: int):
    """(batch (N, V) float32, single) for a runtime call; clear errors for anything else."""
    import numpy as np

    if not isinstance(sweeps, np.ndarray):
        raise TypeError(f"sweeps must be a numpy array, got {type(sweeps).__name__}")
    if sweeps.dtype != np.float32:
        raise TypeError(f"sweeps must be float32 (the model's input type), got {sweeps.dtype}; convert with .astype(np.float32)")
    single = sweeps.ndim == 1
    x = sweeps[None, :] if single else sweeps
    if x.ndim != 2 or x.shape[1] != length:
        raise ValueError(f"sweeps must have shape (N, {length}) or ({length},), got {sweeps.shape}")
    return np.ascontiguousarray(x), single


class OnnxModel:
    """What the runtime's models share: a session, its metadata checked against
    ``REQUIRED`` and ``FORMAT``, one float32 (batch, V) input ``INPUT``, outputs
    ``OUTPUTS``, and the calibration the model was made for (refused unless ``force``)."""

    WHAT = "model"
    INPUT = "interferogram"
    OUTPUTS: tuple[str, ...] = ()
    REQUIRED: tuple[str, ...] = ()
    FORMAT = "1"
    KIND: str | None = None  # required value of the "spectro.kind" metadata, if any

    def __init__(self, path: str | os.PathLike, *, calibration_id: str | None = None, force: bool = False,
                 mode: str = "sweep", threads: int | None = None):
        self.path = Path(path)
        self.session = open_session(self.path, mode=mode, threads=threads, what=self.WHAT)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        missing = [k for k in self.REQUIRED if k not in self.metadata]
        if missing or (self.KIND is not None and self.metadata.get("spectro.kind") != self.KIND):
            raise ModelFormatError(f"{self.path} is not a spectro {self.WHAT}: it lacks the metadata {missing or ['spectro.kind']} "
                                   "(export models with spectro export / python -m training.anomaly)")
        if self.metadata["spectro.format"] != self.FORMAT:
            raise ModelFormatError(f"{self.path}: {self.WHAT} format {self.metadata['spectro.format']!r}, this runtime reads {self.FORMAT!r}")
        self.length = check_input(self.session, self.path, self.INPUT)
        names = [o.name for o in self.session.get_outputs()]
        if tuple(names) != self.OUTPUTS:
            raise ModelFormatError(f"{self.path}: expected outputs {list(self.OUTPUTS)}, got {names}")
        self.forced = bool(force)  # the user accepted a calibration mismatch
        if calibration_id is not None and calibration_id != self.calibration_id and not force:
            raise CalibrationError(f"{self.WHAT} {self.path.name} was trained for calibration {self.calibration_id}, "
                                   f"but calibration {calibration_id} is in use (pass --force to use it anyway)")

    @property
    def calibration_id(self) -> str:
        return self.metadata["calibration_id"]

    @property
    def model_hash(self) -> str:
        return self.metadata["model_sha256"]
