"""onnxruntime sessions for the runtime's models (denoiser, fault detector), set up alike."""

from __future__ import annotations

import os
from pathlib import Path

from calibration.errors import ModelFormatError


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
