"""Faulty-sweep detection: injected faults, the shipped detector, training and export,
flags in reconstruct outputs, bad input."""

import dataclasses

import h5py
import numpy as np
import pytest

from calibration.errors import CalibrationError, ModelFormatError
from spectro.anomaly import DEFAULT_DETECTOR_PATH, FaultDetector
from spectro.cli import main
from spectro.denoiser import DEFAULT_MODEL_PATH
from spectro.recording import RecordingWriter

pytest.importorskip("torch")
from training import anomaly, faults  # noqa: E402


@pytest.fixture(scope="module")
def sweeps(ref_cal):
    rng = np.random.default_rng(11)
    noisy, clean, rows = anomaly.normal_sweeps(ref_cal, 400, (25.0, 30.0, 35.0, 40.0), rng)
    return noisy, clean, rows


def test_injected_faults_have_their_signature(sweeps, ref_cal, ref_params):
    noisy, clean, rows = sweeps
    rng = np.random.default_rng(0)
    stuck = faults.stuck_mirror(noisy, clean, rng)
    assert np.allclose(stuck - (noisy - clean), clean[:, :1])  # no fringes left
    sat = faults.saturation(noisy, clean, rng)
    assert np.all(sat.max(axis=1) < noisy.max(axis=1))
    glitch = faults.voltage_glitch(noisy, clean, rng)
    assert np.all(((glitch != noisy).sum(axis=1) >= 1) & ((glitch != noisy).sum(axis=1) <= 3))
    loose = faults.loose_fibre(noisy, clean, rng, ref_cal.dark)
    assert np.all(np.std(loose - ref_cal.dark, axis=1) < 0.61 * np.std(noisy - ref_cal.dark, axis=1))
    lines = rows[:, 0] >= 0
    drift = faults.calibration_drift(noisy[lines][:20], rows[lines][:20], ref_params, rng)
    assert np.all(np.abs(drift - noisy[lines][:20]).max(axis=1) > 1e-3)
    with pytest.raises(ValueError, match="valid: stuck_mirror"):
        faults.inject("gremlins", noisy, clean, rows, ref_params, ref_cal.dark, rng)


def test_shipped_detector_flags_faults_not_normal_sweeps(sweeps, ref_cal, ref_params):
    det = FaultDetector(DEFAULT_DETECTOR_PATH, calibration_id=ref_cal.calibration_id)
    noisy = sweeps[0]
    _, flagged, fault = det(noisy.astype(np.float32))
    assert flagged.mean() <= 0.01 and np.all(fault[~flagged] == -1)
    rng = np.random.default_rng(5)
    for kind, min_rate in (("stuck_mirror", 0.95), ("calibration_drift", 0.9), ("loose_fibre", 0.8)):
        x = anomaly.faulty(kind, ref_cal, ref_params, 150, (25.0, 30.0, 35.0, 40.0), rng)
        _, flagged, fault = det(x.astype(np.float32))
        assert flagged.mean() >= min_rate, kind
        assert np.mean(np.array(det.classes)[fault[flagged]] == kind) > 0.7, kind


def test_small_detector_trains_and_exports(ref_cal, ref_params, tmp_path):
    cfg = dataclasses.replace(anomaly.DetectorConfig(), per_split=300, faults_per_kind=40, epochs=4)
    det, report = anomaly.train_detector(ref_cal, ref_params, cfg, log=lambda s: None)
    assert report["threshold"] > 0 and set(report["detection"]) == set(faults.FAULTS)
    assert np.array(report["confusion"]).sum() == 300 + 5 * 40
    assert "| stuck mirror |" in anomaly.markdown(report)
    out = tmp_path / "det.onnx"
    info = anomaly.export_detector(det, report, ref_cal, out)
    assert max(v for k, v in info["checks"].items() if k != "seed") <= 1e-5
    runtime = FaultDetector(out, calibration_id=ref_cal.calibration_id)
    assert runtime.threshold == pytest.approx(report["threshold"]) and runtime.classes[0] == "normal"


def test_reconstruct_flags_faulty_sweeps(sweeps, ref_cal, tmp_path):
    noisy, clean, rows = sweeps
    bad = faults.stuck_mirror(noisy[:10], clean[:10], np.random.default_rng(0))
    data = np.concatenate([noisy[10:30], bad]).astype(np.float32)
    rec = tmp_path / "rec.h5"
    with RecordingWriter(rec, n_voltages=64, voltage_v=ref_cal.voltage_v) as w:
        w.append(data, np.arange(len(data)))
    out = tmp_path / "out.h5"
    assert main(["reconstruct", str(rec), "--out", str(out)]) == 0
    with h5py.File(out) as f:
        flags = f["entry/sweeps/anomaly_flag"][()]
        assert flags[20:].all() and flags[:20].sum() <= 1
        assert f["entry/sweeps/fault_class"][20:].tolist() == [1] * 10  # "stuck_mirror"
        assert f["entry/process/detector_sha256"][()]
    out2 = tmp_path / "out2.h5"
    assert main(["reconstruct", str(rec), "--out", str(out2), "--no-detect"]) == 0
    with h5py.File(out2) as f:
        assert "anomaly_flag" not in f["entry/sweeps"]


def test_detector_bad_input(tmp_path, ref_cal, capsys):
    with pytest.raises(ModelFormatError, match="not a spectro fault detector"):
        FaultDetector(DEFAULT_MODEL_PATH)  # a denoiser is not a detector
    with pytest.raises(CalibrationError, match="trained for calibration"):
        FaultDetector(DEFAULT_DETECTOR_PATH, calibration_id="0123456789abcdef")
    det = FaultDetector(DEFAULT_DETECTOR_PATH)
    with pytest.raises(TypeError, match="float32"):
        det(np.zeros((2, 64)))
    rec = tmp_path / "r.h5"
    assert main(["simulate", "--count", "3", "--out", str(rec)]) == 0
    assert main(["reconstruct", str(rec), "--out", str(tmp_path / "o.h5"), "--detector", str(DEFAULT_MODEL_PATH)]) == 3
    assert "not a spectro fault detector" in capsys.readouterr().err
