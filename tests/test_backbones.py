"""The backbone registry: every backbone trains and exports; Baldi & Hornik (linear AE =
PCA); DC-AE's shortcut identity; the VAE's prior decodes to plausible interferograms."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spectro.cli import main  # noqa: E402
from spectro.denoiser import Denoiser  # noqa: E402
from spectro.reconstruct import complement_basis  # noqa: E402
from training import backbones  # noqa: E402
from training.dataset import DatasetConfig, synthesize  # noqa: E402
from training.objectives import loss  # noqa: E402
from training.train import TrainConfig, fit  # noqa: E402


def _quiet(_):
    pass


def test_linear_ae_reaches_pca_error(ref_cal):
    d = synthesize(ref_cal, DatasetConfig(per_k=170, snrs_db=(30.0,), seed=1))
    x = torch.from_numpy(d.noisy)
    k = 6
    torch.manual_seed(0)
    model = backbones.build("linear", latent=k)
    best, *_ = fit(model, lambda m, a, c, e: loss("reconstruct", m, a, c, e), (x[:400], None, None), (x[400:], None, None),
                   TrainConfig(epochs=100, optimizer="lbfgs", patience=100), _quiet)
    xn = (x / torch.sqrt((x * x).mean(1, keepdim=True))).double().numpy()  # what the AE sees
    mu = xn[:400].mean(0)
    U = np.linalg.svd(xn[:400] - mu, full_matrices=False)[2][:k]
    pca = np.mean(((xn[400:] - mu) @ U.T @ U + mu - xn[400:]) ** 2)
    assert best <= 1.05 * pca, (best, pca)


def test_dcae_shortcut_identity():
    x = torch.randn(3, 8, 16)
    for c in (4, 8, 16):  # up to c channels at twice the length, then back down to 8
        assert torch.equal(backbones.down_shortcut(backbones.up_shortcut(x, c), 8), x)
    assert torch.equal(backbones.channel_to_space(backbones.space_to_channel(x)), x)
    cfg = backbones.DCAEConfig()
    assert cfg.compression == 64 / (4 * 8)
    with pytest.raises(ValueError, match="not divisible"):
        backbones.DCAEConfig(length=60)


def test_vae_prior_samples_look_like_interferograms(ref_cal):
    d = synthesize(ref_cal, DatasetConfig(per_k=200, snrs_db=(40.0,), seed=2))
    x = torch.from_numpy(d.noisy)
    torch.manual_seed(0)
    vae = backbones.build("vae", latent=8, hidden=(128,), beta=0.05)
    fit(vae, lambda m, a, c, e: loss("vae", m, a, c, e), (x[:500], None, None), (x[500:], None, None),
        TrainConfig(epochs=60, lr=2e-3, batch_size=64, patience=60), _quiet)
    vae.eval()
    scale = float(torch.sqrt((x * x).mean()))
    samples = vae.sample(256, scale=scale, generator=torch.Generator().manual_seed(3)).double().numpy()
    # Energy outside the calibration's column space: ~0 for real sweeps, 8/64 for random vectors.
    C = complement_basis(ref_cal.matrix.T.astype(np.float64))
    z = samples - ref_cal.dark
    outside = np.sum((z @ C) ** 2, axis=1) / np.sum(z**2, axis=1)
    noise = np.random.default_rng(0).standard_normal(samples.shape)
    assert np.median(outside) < 0.25 * np.median(np.sum((noise @ C) ** 2, axis=1) / np.sum(noise**2, axis=1))
    assert np.all(np.isfinite(samples)) and 0.5 < np.sqrt(np.mean(samples**2)) / scale < 1.5
    out = vae(x[:4])
    assert out.mean.shape == out.logvar.shape == (4, 8)


@pytest.mark.parametrize("arch", ["linear", "ae", "dae", "vae", "dcae"])
def test_every_backbone_trains_and_exports(arch, tmp_path, capsys):
    ckpt, onnx_path = tmp_path / "m", tmp_path / "m.onnx"
    assert main(["train", "--arch", arch, "--out", str(ckpt), "--per-k", "60", "--epochs", "1", "--threads", "1"]) == 0
    assert main(["export", str(ckpt), "--out", str(onnx_path)]) == 0  # runs the checker and both parity checks
    den = Denoiser(onnx_path)
    assert den.architecture["arch"] == arch
    x = (1 + 0.1 * np.random.default_rng(0).standard_normal((3, 64))).astype(np.float32)
    noise, out = den.run(x)
    np.testing.assert_allclose(out + noise, x, atol=1e-5)


def test_info_lists_the_registry():
    from spectro.commands.data import BACKBONES

    assert BACKBONES == tuple(backbones.REGISTRY)


def test_unknown_backbone_and_objective(tmp_path, capsys):
    assert main(["train", "--arch", "transformer", "--out", str(tmp_path / "a")]) == 2
    assert "valid: linear, ae, dae, vae, cae, dcae" in capsys.readouterr().err
    assert main(["train", "--arch", "ae", "--objective", "magic", "--out", str(tmp_path / "b"), "--per-k", "10", "--epochs", "1"]) == 2
    assert "valid: reconstruct, denoise, noise, vae" in capsys.readouterr().err
    assert main(["train", "--arch", "ae", "--latent", "64", "--out", str(tmp_path / "c"), "--per-k", "10", "--epochs", "1"]) == 2
    assert "latent must be in 1..63" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_objectives_use_their_targets():
    class Identity(torch.nn.Module):  # recon = the input it is given
        config = backbones.MLPConfig()

        def forward(self, x):
            return backbones.AEOutput(recon=x, latent=x[:, :1])

    clean = torch.ones(4, 64)
    noise = 0.1 * torch.randn(4, 64, generator=torch.Generator().manual_seed(0))
    noisy = clean + noise
    rms = torch.sqrt(torch.mean(noisy * noisy, dim=1, keepdim=True))
    assert loss("reconstruct", Identity(), noisy, clean, noise) == 0  # the AE reproduces its input
    torch.testing.assert_close(loss("denoise", Identity(), noisy, clean, noise), torch.mean((noise / rms) ** 2))  # the DAE: clean target
    with pytest.raises(ValueError, match="valid: reconstruct"):
        loss("magic", Identity(), noisy, clean, noise)


def test_spectrum_codec_schedule_runs():
    from training import compression as C

    x, centres = C.spectra(48, np.random.default_rng(0))
    assert x.shape == (48, C.LENGTH) and np.all(x[:, C.BINS:] == 0) and np.allclose(x.max(axis=1), 1)
    model = C.codec(16, shortcuts=True)
    assert model.config.compression == 16
    cfg = C.CodecSchedule(samples=48, phase1_epochs=1, phase2_epochs=1, phase3_epochs=1, batch_size=16)
    before = [p.clone() for p in model.head.parameters()]
    C.train_codec(model, x, cfg)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.head.parameters()))  # phase 3 trained the head
    m = C.evaluate_codec(model, x[:8], centres[:8])
    assert set(m) == {"relative_l2", "peak_error_nm", "lines_within_0.1nm"} and np.isfinite(m["relative_l2"])
    with pytest.raises(ValueError, match="compression"):
        C.codec(12, shortcuts=True)
