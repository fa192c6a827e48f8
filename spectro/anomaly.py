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

from spectro.onnxrt import OnnxModel, check_sweeps

INPUT, OUTPUTS = "interferogram", ("score", "fault_probs")
FORMAT = "1"
REQUIRED_METADATA = ("spectro.kind", "spectro.format", "calibration_id", "threshold", "classes", "model_sha256")
DEFAULT_DETECTOR_PATH = Path(__file__).with_name("data") / "reference_detector.onnx"


class FaultDetector(OnnxModel):
    WHAT, KIND, FORMAT = "fault detector", "fault-detector", FORMAT
    INPUT, OUTPUTS, REQUIRED = INPUT, OUTPUTS, REQUIRED_METADATA

    def __init__(self, path: str | os.PathLike, **kwargs):
        super().__init__(path, **kwargs)
        self.threshold = float(self.metadata["threshold"])
        self.classes: list[str] = json.loads(self.metadata["classes"])

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
