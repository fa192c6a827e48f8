"""Training: the paper's dataset, the CAE, a short training run, checkpoints (tiny configs)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calibration import reference  # noqa: E402
from calibration.errors import ModelFormatError, OutputExistsError  # noqa: E402
from calibration.noise import snr_db  # noqa: E402
from training import checkpoint  # noqa: E402
from training.dataset import WINDOW, DatasetConfig, synthesize  # noqa: E402
from training.models import CAEConfig, NoiseCAE  # noqa: E402
from training.train import TrainConfig, train  # noqa: E402

TINY = CAEConfig(channels=4, depth=2, global_hidden=16, window_rank=0)
HYBRID = CAEConfig(channels=4, depth=2, global_hidden=16, window_rank=3, window_stride=50)


@pytest.fixture(scope="module")
def cal():
    return reference.load_reference()


def test_paper_dataset_counts_and_structure(cal):
    d = synthesize(cal, DatasetConfig(per_k=300, seed=1))
    assert len(d) == 300 * 3 * 2  # 10,000 × {2,3,4} × {30, 36 dB} at full size
    assert np.bincount(d.k).tolist() == [0, 0, 600, 600, 600]
    Q = cal.q().astype(np.float64)
    for i in range(0, len(d), 97):
        used = d.rows[i][d.rows[i] >= 0]
        assert len(used) == d.k[i] and len(set(used.tolist())) == d.k[i]  # distinct rows
        assert np.all((used >= d.start[i]) & (used < d.start[i] + WINDOW))  # one 101-row window of Q
        np.testing.assert_allclose(d.clean[i], Q[used].sum(axis=0) + cal.dark, rtol=1e-5)
    assert d.start.max() <= 3000 and np.any(d.rows > 3000)  # late windows run into Q's appended rows
    np.testing.assert_allclose(d.noise, d.noisy - d.clean, atol=1e-6)


@pytest.mark.parametrize("target", [30.0, 36.0])
def test_dataset_snr(cal, target):
    d = synthesize(cal, DatasetConfig(per_k=2000, seed=2))
    m = d.snr_db == target
    assert abs(np.mean(snr_db(d.clean[m], d.noisy[m])) - target) < 0.3


def test_dataset_is_reproducible(cal):
    a, b = synthesize(cal, DatasetConfig(per_k=50, seed=5)), synthesize(cal, DatasetConfig(per_k=50, seed=5))
    np.testing.assert_array_equal(a.noisy, b.noisy)
    assert not np.array_equal(a.noisy, synthesize(cal, DatasetConfig(per_k=50, seed=6)).noisy)


def test_model_contract_and_shapes():
    torch.manual_seed(0)
    m = NoiseCAE(TINY)
    x = torch.rand(5, 64) + 1.0
    assert m(x).shape == (5, 64)
    torch.testing.assert_close(m(3.0 * x), 3.0 * m(x), rtol=1e-5, atol=1e-6)  # per-sample scale normalisation
    torch.testing.assert_close(m.denoise(x), x - m(x))
    with pytest.raises(ValueError, match="divisible"):
        CAEConfig.from_dict({**TINY.to_dict(), "length": 62, "depth": 2})
    with pytest.raises(ValueError, match="unknown CAE config"):
        CAEConfig.from_dict({"channels": 4, "colour": 1})


def test_short_training_lowers_validation_loss_and_gains_snr(cal, tmp_path):
    data = DatasetConfig(per_k=600, seed=3)
    meta = train(cal, tmp_path / "ck", model_config=TINY, data_config=data, train_config=TrainConfig(epochs=4, batch_size=128, lr=3e-3), log=lambda s: None)
    hist = meta["history"]
    assert hist[-1]["val"] < hist[0]["val"] or meta["final_validation_loss"] < hist[0]["val"]
    model, meta2 = checkpoint.load(tmp_path / "ck", calibration_id=cal.calibration_id)
    test = synthesize(cal, DatasetConfig(per_k=300, snrs_db=(30.0,), seed=99))
    x = torch.from_numpy(test.noisy)
    with torch.no_grad():
        den = model.denoise(x).numpy()
    gain = np.mean(snr_db(test.clean, den)) - np.mean(snr_db(test.clean, test.noisy))
    assert gain > 0.0, gain
    assert meta2["calibration_id"] == cal.calibration_id and meta2["training_snrs_db"] == [30.0, 36.0]
    assert {"package_version", "created", "final_validation_loss", "dataset", "weights_sha256"} <= set(meta2)


def test_checkpoint_round_trip_and_rejections(cal, tmp_path):
    torch.manual_seed(1)
    m = NoiseCAE(TINY).eval()
    ck = checkpoint.save(m, {"calibration_id": cal.calibration_id}, tmp_path / "ck")
    loaded, _ = checkpoint.load(ck)
    x = torch.rand(4, 64) + 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), m(x), rtol=0, atol=0)  # identical outputs
    with pytest.raises(OutputExistsError):
        checkpoint.save(m, {}, ck)
    with pytest.raises(ModelFormatError, match="trained for calibration"):
        checkpoint.load(ck, calibration_id="0000000000000000")
    checkpoint.load(ck, calibration_id="0000000000000000", force=True)
    # config that does not match the weights
    cfg = json.loads((ck / "config.json").read_text())
    cfg["model"]["channels"] = 8
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFormatError, match="does not match weights"):
        checkpoint.load(ck)
    # tampered weights
    ck2 = checkpoint.save(m, {}, tmp_path / "ck2")
    raw = bytearray((ck2 / "weights.pt").read_bytes())
    raw[-100] ^= 0xFF
    (ck2 / "weights.pt").write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError, match="SHA-256"):
        checkpoint.load(ck2)
    with pytest.raises(ModelFormatError, match="not a folder"):
        checkpoint.load(tmp_path / "nothing")


def test_cli_train_refuses_existing_folder(tmp_path, capsys):
    from spectro.cli import main

    (tmp_path / "ck").mkdir()
    assert main(["train", "--out", str(tmp_path / "ck"), "--epochs", "1", "--per-k", "10"]) == 1
    assert "exists" in capsys.readouterr().err


def test_hybrid_cae_projection_and_checkpoint(cal, tmp_path):
    torch.manual_seed(2)
    m = NoiseCAE(HYBRID)
    m.set_calibration(cal.matrix, cal.dark)
    clean = torch.from_numpy(synthesize(cal, DatasetConfig(per_k=20, snrs_db=(30.0,), seed=4)).clean)
    p = m.project(clean)
    assert p.shape == clean.shape and torch.all(torch.isfinite(p))
    x = clean[:3] + 0.01
    ck = checkpoint.save(m.eval(), {"calibration_id": cal.calibration_id}, tmp_path / "h")
    loaded, _ = checkpoint.load(ck)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), m(x), rtol=0, atol=0)  # the window bases travel with the weights
        torch.testing.assert_close(loaded.bases, m.bases)


def test_structured_noise_keeps_the_paper_target(cal):
    from calibration.noise import REALISTIC

    white = synthesize(cal, DatasetConfig(per_k=100, snrs_db=(36.0,), seed=11))
    real = synthesize(cal, DatasetConfig(per_k=100, snrs_db=(36.0,), seed=11), REALISTIC)
    np.testing.assert_array_equal(real.clean, white.clean)  # the target is still the sum of calibration rows
    assert np.mean(snr_db(real.clean, real.noisy)) < np.mean(snr_db(white.clean, white.noisy)) - 1.0


def test_shipped_default_model(cal):
    from training.default_model import DEFAULT_MODEL_PATH

    model, meta = checkpoint.load(DEFAULT_MODEL_PATH, calibration_id=cal.calibration_id)
    assert meta["training_snrs_db"] == [25.0, 30.0, 36.0] and meta["dataset"]["samples"] == 90_000
    test = synthesize(cal, DatasetConfig(per_k=100, snrs_db=(30.0,), seed=31))
    with torch.no_grad():
        den = model.denoise(torch.from_numpy(test.noisy)).numpy()
    assert np.mean(snr_db(test.clean, den)) - np.mean(snr_db(test.clean, test.noisy)) > 6.0
