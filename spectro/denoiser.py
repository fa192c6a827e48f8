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

import json
import os
from pathlib import Path

import numpy as np

from spectro.onnxrt import OnnxModel, check_sweeps

INPUT, OUTPUTS = "interferogram", ("noise", "denoised")
FORMAT = "1"
REQUIRED_METADATA = ("spectro.format", "calibration_id", "normalisation", "architecture", "training_snrs_db", "package_version", "model_sha256")
DEFAULT_MODEL_PATH = Path(__file__).with_name("data") / "reference_cae.onnx"


class Denoiser(OnnxModel):
    """Load a model written by ``spectro export`` and denoise sweeps with it.

    ``mode``: "sweep" (one thread, lowest latency per sweep) or "batch" (``threads`` cores,
    default all); see :func:`spectro.onnxrt.open_session`. ``calibration_id``: the
    calibration in use; a model made for another one is refused unless ``force``.
    """

    WHAT, FORMAT = "denoiser", FORMAT
    INPUT, OUTPUTS, REQUIRED = INPUT, OUTPUTS, REQUIRED_METADATA

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
