"""The ONNX denoiser runtime (torch-free): contract checks, bad input, reconstruct --model."""

import json

import h5py
import numpy as np
import pytest

from calibration.errors import CalibrationError, ModelFormatError
from spectro.cli import main
from spectro.denoiser import DEFAULT_MODEL_PATH, INPUT, OUTPUTS, REQUIRED_METADATA, Denoiser

onnx = pytest.importorskip("onnx")  # building malformed models needs onnx (the [train] extra)
from onnx import TensorProto, helper  # noqa: E402


@pytest.fixture(scope="module")
def den(ref_cal):
    return Denoiser(DEFAULT_MODEL_PATH, calibration_id=ref_cal.calibration_id)


def _model(path, *, inp=INPUT, outs=OUTPUTS, length=64, dtype=TensorProto.FLOAT, meta=None):
    """A tiny graph (noise = 0·x, denoised = x) with the given names, shapes and metadata."""
    x = helper.make_tensor_value_info(inp, dtype, ["batch", length])
    ys = [helper.make_tensor_value_info(o, dtype, ["batch", length]) for o in outs]
    zero = helper.make_tensor("zero", dtype, [], [0.0])
    nodes = [helper.make_node("Mul", [inp, "zero"], [outs[0]]), helper.make_node("Identity", [inp], [outs[1]])]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], ys, [zero]), opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    base = {k: "x" for k in REQUIRED_METADATA} | {"spectro.format": "1", "calibration_id": "abc", "architecture": "{}", "training_snrs_db": "[30]"}
    helper.set_model_props(m, base if meta is None else meta)
    onnx.save(m, path)
    return path


def test_shipped_model_contract(den, ref_cal, rng):
    d = den.describe()
    assert d["calibration_id"] == ref_cal.calibration_id and len(d["model_sha256"]) == 64
    assert json.loads(den.metadata["normalisation"])["kind"] == "rms"
    x = (1 + 0.1 * rng.standard_normal((5, 64))).astype(np.float32)
    noise, denoised = den.run(x)
    assert noise.shape == denoised.shape == (5, 64) and denoised.dtype == np.float32
    np.testing.assert_allclose(denoised, x - noise, rtol=0, atol=1e-6)
    single = den.run(x[0])[1]  # one sweep in, one out, same numbers as in a batch
    np.testing.assert_allclose(single, denoised[0], atol=1e-6)


def test_denoising_gains_snr_on_mixtures(den, ref_cal):
    from calibration.matrix import padded_q
    from calibration.noise import add_white_noise, snr_db

    rng = np.random.default_rng(5)
    Q = padded_q(ref_cal.matrix.astype(np.float64))
    starts = rng.integers(0, 3000, 200)
    clean = np.stack([Q[s + rng.choice(101, 3, replace=False)].sum(0) for s in starts]) + ref_cal.dark
    noisy = add_white_noise(clean, 30.0, rng)
    gain = np.mean(snr_db(clean, den(noisy.astype(np.float32)).astype(np.float64))) - np.mean(snr_db(clean, noisy))
    assert gain > 5.0


@pytest.mark.parametrize(("bad", "match"), [
    (np.zeros((3, 64)), "float32"),
    (np.zeros((3, 63), np.float32), r"\(N, 64\)"),
    (np.zeros((2, 3, 64), np.float32), r"\(N, 64\)"),
    ([[0.0] * 64], "numpy array"),
])
def test_runtime_rejects_bad_arrays(den, bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        den.run(bad)


def test_bad_model_files(tmp_path, ref_cal):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not an onnx model at all")
    with pytest.raises(ModelFormatError, match="not a loadable ONNX"):
        Denoiser(junk)
    with pytest.raises(ModelFormatError, match="does not exist"):
        Denoiser(tmp_path / "missing.onnx")
    with pytest.raises(ModelFormatError, match="expected one input 'interferogram'"):
        Denoiser(_model(tmp_path / "name.onnx", inp="x"))
    with pytest.raises(ModelFormatError, match="float32"):
        Denoiser(_model(tmp_path / "f64.onnx", dtype=TensorProto.DOUBLE))
    with pytest.raises(ModelFormatError, match="expected outputs"):
        Denoiser(_model(tmp_path / "outs.onnx", outs=("a", "b")))
    with pytest.raises(ModelFormatError, match="is not a spectro denoiser"):
        Denoiser(_model(tmp_path / "meta.onnx", meta={"calibration_id": "abc"}))
    ok = _model(tmp_path / "ok.onnx")
    with pytest.raises(CalibrationError, match="trained for calibration abc"):
        Denoiser(ok, calibration_id=ref_cal.calibration_id)
    assert Denoiser(ok, calibration_id=ref_cal.calibration_id, force=True).forced
    short = Denoiser(_model(tmp_path / "short.onnx", length=32))
    with pytest.raises(ValueError, match=r"\(N, 32\)"):
        short.run(np.zeros((1, 64), np.float32))


def test_cli_reconstruct_model_options(tmp_path, ref_cal, capsys):
    rec = tmp_path / "rec.h5"
    assert main(["simulate", "--count", "20", "--source", "lines:1530@0.5,1531.5@0.5", "--out", str(rec)]) == 0
    den, raw = tmp_path / "den.h5", tmp_path / "raw.h5"
    assert main(["reconstruct", str(rec), "--out", str(den)]) == 0  # default: the shipped model
    assert main(["reconstruct", str(rec), "--out", str(raw), "--no-denoise"]) == 0
    with h5py.File(den) as f, h5py.File(raw) as g:
        assert f["entry/sweeps/denoised"].shape == (20, 64)
        # in-prior sweeps at 30 dB are mostly denoised (some pass the 33 dB high-SNR rule: the estimate is noisy)
        assert f["entry/sweeps/denoise_bypassed"][()].sum() < 10
        assert "denoised" not in g["entry/sweeps"]
        assert not np.allclose(f["entry/spectra/spectrum"][()], g["entry/spectra/spectrum"][()])
    other = _model(tmp_path / "other.onnx")
    out = tmp_path / "x.h5"
    capsys.readouterr()
    assert main(["reconstruct", str(rec), "--out", str(out), "--model", str(other)]) == 3
    assert "trained for calibration abc" in capsys.readouterr().err and not out.exists()
    assert main(["reconstruct", str(rec), "--out", str(out), "--model", str(tmp_path / "junk.onnx")]) == 3
    with pytest.raises(SystemExit) as exc:  # argparse: the two are exclusive
        main(["reconstruct", str(rec), "--out", str(out), "--model", str(other), "--no-denoise"])
    assert exc.value.code == 2


def test_info_json(capsys, ref_cal):
    assert main(["info", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["calibration"]["calibration_id"] == ref_cal.calibration_id
    assert d["model"]["calibration_id"] == ref_cal.calibration_id and d["model"]["path"].endswith("reference_cae.onnx")
    assert "nnls" in d["methods"] and d["version"]
    assert d["detector"]["calibration_id"] == ref_cal.calibration_id and d["detector"]["classes"][0] == "normal"
