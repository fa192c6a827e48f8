import numpy as np
import pytest

from calibration import sources
from calibration.errors import DataError
from calibration.forward import simulate
from calibration.noise import NoiseModel
from spectro.metrics import relative_l2, resolved
from spectro.reconstruct import METHODS, Reconstructor, reconstruct


def _pair(params, sep_rows, n, snr, rng, k=1200):
    s = np.zeros((n, params.n_wavelengths))
    s[:, k] = 1.0
    s[:, k + sep_rows] = 0.85
    _, y = simulate(params, s, NoiseModel(white_snr_db=snr), rng)
    return s, y


def test_two_lines_resolved_at_40_db_and_1_nm(ref_cal, ref_params, rng):
    for sep_nm in (1.0, 1.5, 2.0):
        d = int(round(sep_nm / 0.05))
        _, y = _pair(ref_params, d, 32, 40.0, rng)
        x = reconstruct(y, ref_cal)
        ok = np.mean([resolved(xi, 1200, 1200 + d) for xi in x])
        assert ok >= 0.9, (sep_nm, ok)


def test_noise_free_lines_come_back_exactly(ref_cal, ref_params):
    wl = ref_params.wavelengths_nm()
    s = sources.lines(wl, [1500, 1555.5, 1601], [1.0, 0.5, 0.8])
    y, _ = simulate(ref_params, s[None], NoiseModel())
    x = reconstruct(y, ref_cal)[0]
    np.testing.assert_allclose(x, s, atol=2e-3)


def test_tikhonov_smears_and_nnls_does_not(ref_cal, ref_params, rng):
    s, y = _pair(ref_params, 30, 16, 35.0, rng)
    err_nnls = np.median(relative_l2(reconstruct(y, ref_cal, "nnls"), s, smooth_rows=10))
    err_tik = np.median(relative_l2(reconstruct(y, ref_cal, "tikhonov"), s, smooth_rows=10))
    assert err_nnls < 0.5 * err_tik


def test_smooth_method_reconstructs_broadband_light(ref_cal, ref_params, rng):
    wl = ref_params.wavelengths_nm()
    s = np.repeat(sources.lamp(wl, 20.0)[None], 8, axis=0)
    _, y = simulate(ref_params, s, NoiseModel(white_snr_db=35.0), rng)
    err_smooth = np.median(relative_l2(reconstruct(y, ref_cal, "smooth"), s, smooth_rows=60))
    err_nnls = np.median(relative_l2(reconstruct(y, ref_cal, "nnls"), s, smooth_rows=60))
    assert err_smooth < 0.25 and err_nnls > 0.6
    assert np.all(reconstruct(y, ref_cal, "smooth") >= 0)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_runs_and_is_nonneg_where_promised(method, ref_cal, ref_params, rng):
    _, y = _pair(ref_params, 40, 4, 35.0, rng)
    x = Reconstructor(ref_cal, method)(y)
    assert x.shape == (4, 3001) and np.all(np.isfinite(x))
    if method != "tikhonov":
        assert np.all(x >= 0)


def test_float32_in_float32_out_and_1d(ref_cal, ref_params, rng):
    _, y = _pair(ref_params, 30, 3, 35.0, rng)
    rec = Reconstructor(ref_cal)
    x32 = rec(y.astype(np.float32))
    assert x32.dtype == np.float32
    assert rec(y).dtype == np.float64
    np.testing.assert_allclose(rec(y[1]), rec(y)[1])


def test_chunked_equals_whole(ref_cal, ref_params, rng, monkeypatch):
    import spectro.reconstruct as R

    _, y = _pair(ref_params, 30, 10, 30.0, rng)
    whole = Reconstructor(ref_cal)(y)
    monkeypatch.setattr(R, "CHUNK", 3)
    np.testing.assert_allclose(Reconstructor(ref_cal)(y), whole, atol=1e-9)


def test_unknown_method_lists_valid_ones(ref_cal):
    with pytest.raises(ValueError, match="valid methods: nnls, sparse"):
        Reconstructor(ref_cal, "fft")


def test_unknown_option_lists_valid_ones(ref_cal):
    with pytest.raises(ValueError, match=r"valid options: \['tau'"):
        Reconstructor(ref_cal, "sparse", tua=0.5)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.ones((3, 32)), "shape \\(N, 64\\)"),
        (np.ones((2, 3, 64)), "shape \\(N, 64\\)"),
        (np.array([[np.nan] * 64]), "NaN/Inf"),
        (np.array([[np.inf] * 64]), "NaN/Inf"),
        (np.array([["a"] * 64]), "numeric"),
    ],
)
def test_bad_interferograms_are_rejected(ref_cal, bad, message):
    with pytest.raises(DataError, match=message):
        Reconstructor(ref_cal)(bad)
