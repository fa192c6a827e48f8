"""The faulty-sweep detector at run time (torch-free): an ONNX model from ``training.anomaly``.

Contract: input ``interferogram`` (N, V) float32 raw sweeps; outputs ``score`` (N,) — the
autoencoder's reconstruction error in units of its fixed input scale² — and ``fault_probs``
(N, C) over ``classes`` (``normal`` first). Metadata: ``spectro.kind`` = ``fault-detector``,
``spectro.format``, ``calibration_id``, ``threshold`` (set for the false-alarm target on
held-out normal sweeps), ``classes`` (JSON), ``input_scale``, ``model_sha256``.

A sweep is flagged when its score exceeds the threshold; a flagged sweep's fault is the
most probable class other than ``normal``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from calibration.errors import CalibrationError, ModelFormatError
from spectro.onnxrt import check_input, check_sweeps, open_session

INPUT, OUTPUTS = "interferogram", ("score", "fault_probs")
FORMAT = "1"
REQUIRED_METADATA = ("spectro.kind", "spectro.format", "calibration_id", "threshold", "classes", "model_sha256")
DEFAULT_DETECTOR_PATH = Path(__file__).with_name("data") / "reference_detector.onnx"


class FaultDetector:
    def __init__(self, path: str | os.PathLike, *, calibration_id: str | None = None, force: bool = False,
                 mode: str = "sweep", threads: int | None = None):
        self.path = Path(path)
        self.session = open_session(self.path, mode=mode, threads=threads, what="fault detector")
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        missing = [k for k in REQUIRED_METADATA if k not in self.metadata]
        if missing or self.metadata.get("spectro.kind") != "fault-detector":
            raise ModelFormatError(f"{self.path} is not a spectro fault detector (missing metadata {missing or ['spectro.kind']})")
        if self.metadata["spectro.format"] != FORMAT:
            raise ModelFormatError(f"{self.path}: detector format {self.metadata['spectro.format']!r}, this runtime reads {FORMAT!r}")
        self.length = check_input(self.session, self.path, INPUT)
        names = [o.name for o in self.session.get_outputs()]
        if tuple(names) != OUTPUTS:
            raise ModelFormatError(f"{self.path}: expected outputs {list(OUTPUTS)}, got {names}")
        self.threshold = float(self.metadata["threshold"])
        self.classes: list[str] = json.loads(self.metadata["classes"])
        if calibration_id is not None and calibration_id != self.calibration_id and not force:
            raise CalibrationError(f"fault detector {self.path.name} was trained for calibration {self.calibration_id}, "
                                   f"but calibration {calibration_id} is in use (pass --force to use it anyway)")
        self.forced = bool(force)

    @property
    def calibration_id(self) -> str:
        return self.metadata["calibration_id"]

    @property
    def model_hash(self) -> str:
        return self.metadata["model_sha256"]

    def __call__(self, sweeps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(score (N,) float32, flagged (N,) bool, fault (N,) int8: class index, −1 when not
        flagged) for raw sweeps (N, V) float32."""
        x, _ = check_sweeps(sweeps, self.length)
        if len(x) == 0:
            return np.zeros(0, np.float32), np.zeros(0, bool), np.zeros(0, np.int8)
        score, probs = self.session.run(list(OUTPUTS), {INPUT: x})
        flagged = score > self.threshold
        fault = np.where(flagged, 1 + np.argmax(probs[:, 1:], axis=1), -1).astype(np.int8)
        return score.astype(np.float32), flagged, fault
