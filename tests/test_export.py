"""spectro export: the three checks, metadata, atomic writes, int8 (needs the [train] extra)."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from calibration.errors import OutputExistsError  # noqa: E402
from spectro.cli import main  # noqa: E402
from spectro.denoiser import Denoiser  # noqa: E402
from training import export as E  # noqa: E402
from training.default_model import DEFAULT_MODEL_PATH as CHECKPOINT  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory, ref_cal):
    out = tmp_path_factory.mktemp("exp") / "m.onnx"
    return out, E.export(CHECKPOINT, out, cal=ref_cal)


def test_export_of_shipped_model_passes_all_checks(exported, ref_cal):
    out, report = exported
    checks = report["checks"]
    assert {"onnxruntime_batch1", "onnxruntime_batch7", "reference_batch1", "reference_batch7"} <= set(checks)
    assert max(v for k, v in checks.items() if k != "seed") <= E.PARITY_RTOL
    proto = onnx.load(out)
    onnx.checker.check_model(proto, full_check=True)
    assert not list(out.parent.glob("*.data"))  # one self-contained file
    assert proto.opset_import[0].version >= 18
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["calibration_id"] == ref_cal.calibration_id and meta["model_sha256"] == E.graph_sha256(proto)
    assert json.loads(meta["architecture"])["arch"] == "cae" and json.loads(meta["training_snrs_db"]) == [25.0, 30.0, 36.0]


def test_fresh_session_reads_metadata_and_dynamic_batch(exported, ref_cal):
    out, _ = exported
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert sess.get_modelmeta().custom_metadata_map["calibration_id"] == ref_cal.calibration_id
    assert [i.name for i in sess.get_inputs()] == ["interferogram"] and [o.name for o in sess.get_outputs()] == ["noise", "denoised"]
    for n in (1, 3, 33):
        noise, den = sess.run(None, {"interferogram": np.ones((n, 64), np.float32)})
        assert noise.shape == den.shape == (n, 64)
    assert Denoiser(out, calibration_id=ref_cal.calibration_id).length == 64


def test_parity_failure_leaves_no_file(tmp_path, monkeypatch):
    real = E.to_onnx

    def tampered(model):  # a wrong weight in the graph: onnxruntime must disagree with PyTorch
        proto = real(model)
        w = next(i for i in proto.graph.initializer if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) == 3)
        arr = onnx.numpy_helper.to_array(w) * 1.01
        w.CopyFrom(onnx.numpy_helper.from_array(arr.astype(np.float32), w.name))
        return proto

    monkeypatch.setattr(E, "to_onnx", tampered)
    out = tmp_path / "bad.onnx"
    with pytest.raises(E.ExportError, match="differs from PyTorch"):
        E.export(CHECKPOINT, out)
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_existing_output(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        E.export(CHECKPOINT, out)
    assert main(["export", str(CHECKPOINT), "--out", str(out)]) == 1
    assert out.read_bytes() == b"keep me"


def test_int8_export_keeps_gain_and_shrinks(tmp_path, ref_cal):
    out = tmp_path / "m8.onnx"
    report = E.export(CHECKPOINT, out, int8=True, cal=ref_cal)
    assert report["bytes"] < 0.5 * report["float_bytes"]
    assert max(report["loss_db"].values()) <= E.INT8_MAX_LOSS_DB
    den = Denoiser(out, calibration_id=ref_cal.calibration_id)
    assert den.metadata["quantisation"] == "int8-qdq"
    assert {n.op_type for n in onnx.load(out).graph.node} >= {"QuantizeLinear", "DequantizeLinear"}
