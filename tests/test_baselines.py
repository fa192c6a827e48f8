"""Classical denoisers and the side-by-side evaluation (small sizes)."""

import numpy as np
import pytest

pytest.importorskip("pywt")

from calibration import reference  # noqa: E402
from training import baselines as B  # noqa: E402
from training.dataset import DatasetConfig, synthesize  # noqa: E402
from training.evaluate import evaluate, markdown  # noqa: E402


@pytest.fixture(scope="module")
def cal():
    return reference.load_reference()


@pytest.fixture(scope="module")
def data(cal):
    return synthesize(cal, DatasetConfig(per_k=60, snrs_db=(30.0,), seed=8))


def test_identity_gains_nothing(data):
    assert B.snr_gain(data.clean, data.noisy, B.identity()(data.noisy)) == pytest.approx(0.0, abs=1e-9)


def test_full_rank_svd_is_identity_and_low_rank_is_a_projection(cal, data):
    full = B.truncated_svd(cal, 64)(data.noisy)
    np.testing.assert_allclose(full, data.noisy, atol=1e-5)
    p = B.truncated_svd(cal, 20)
    once = p(data.noisy)
    np.testing.assert_allclose(p(once), once, atol=1e-9)


def test_window_projection_keeps_clean_signals_and_gains_about_9_db(cal, data):
    wp = B.WindowProjection(cal, 7)
    inside = (data.rows < cal.n_wavelengths).all(axis=1)  # windows that do not wrap into Q's copied rows
    err = np.linalg.norm(wp(data.clean) - data.clean, axis=1) / np.linalg.norm(data.clean, axis=1)
    assert np.percentile(err[inside], 95) < 1e-2  # a clean mixture lies (almost) in its window's subspace
    assert B.snr_gain(data.clean, data.noisy, wp(data.noisy)) > 7.0


def test_tuning_picks_the_best_grid_point(cal, data):
    params, gain = B.tune(lambda rank: B.truncated_svd(cal, rank), [dict(rank=r) for r in (8, 40, 60)], data.clean, data.noisy)
    gains = {r: B.snr_gain(data.clean, data.noisy, B.truncated_svd(cal, r)(data.noisy)) for r in (8, 40, 60)}
    assert params["rank"] == max(gains, key=gains.get) and gain == pytest.approx(max(gains.values()))


def test_wavelet_and_savgol_run(data):
    for den in (B.wavelet("sym4"), B.savitzky_golay(7, 3)):
        out = den(data.noisy)
        assert out.shape == data.noisy.shape and np.all(np.isfinite(out))


def test_evaluate_table_and_bound(cal):
    seps = np.array([0.6, 1.2, 2.0, 3.0])
    res = evaluate(cal, {"none": B.identity(), "window projection": B.WindowProjection(cal, 7)}, per_k=40, trials=32,
                   separations_nm=seps, snrs=(30.0,), log=lambda s: None)
    assert res["methods"]["window projection"]["gain_db"][30.0] > 7.0
    assert abs(res["methods"]["none"]["gain_db"][30.0]) < 1e-9
    assert np.isfinite(res["bound_nm"][30.0])
    text = markdown(res)
    assert "bound" in text and "window projection" in text
