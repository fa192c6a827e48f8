import numpy as np
import pytest

from calibration import reference, sources
from calibration.forward import simulate
from calibration.noise import NoiseModel
from spectro.guard import NoiseGuard


@pytest.fixture(scope="module")
def setup():
    cal, params = reference.load_reference(), reference.reference_params()
    wl = params.wavelengths_nm()
    S = np.repeat(sources.lines(wl, [1530, 1531.2], [0.6, 0.5])[None], 200, axis=0)
    clean, noisy = simulate(params, S, NoiseModel(white_snr_db=30.0), np.random.default_rng(0))
    return NoiseGuard(cal, max_snr_db=None), clean, noisy


def test_an_oracle_denoiser_removes_about_one_noise_floor(setup):
    guard, clean, noisy = setup
    ratio = guard.ratio(noisy, clean)  # predicted noise = the true noise
    assert 0.7 < np.median(ratio) < 1.4
    out, passed = guard(noisy, clean)
    assert passed.mean() < 0.1 and np.allclose(out[~passed], clean[~passed])


def test_a_destructive_denoiser_is_passed_through(setup):
    guard, _, noisy = setup
    smashed = np.full_like(noisy, noisy.mean())  # "denoised" to a flat line
    out, passed = guard(noisy, smashed)
    assert passed.all() and np.array_equal(out, noisy)


def test_threshold_must_be_positive(setup):
    with pytest.raises(ValueError, match="threshold"):
        NoiseGuard(reference.load_reference(), threshold=0)


@pytest.mark.parametrize(("snr", "low", "high"), [(25.0, 0.0, 0.05), (35.0, 0.6, 1.0), (40.0, 0.95, 1.0)])
def test_high_snr_sweeps_keep_their_raw_interferogram(snr, low, high):
    cal, params = reference.load_reference(), reference.reference_params()
    S = np.repeat(sources.lines(params.wavelengths_nm(), [1530, 1531.2], [0.6, 0.5])[None], 200, axis=0)
    clean, noisy = simulate(params, S, NoiseModel(white_snr_db=snr), np.random.default_rng(1))
    guard = NoiseGuard(cal)  # default: above 33 dB estimated SNR, no denoising
    est = guard.snr_db(noisy)
    assert abs(np.median(est) - snr) < 1.5  # the estimate from the matrix's null space is unbiased enough
    _, passed = guard(noisy, clean)  # even a perfect denoiser is bypassed at high SNR
    assert low <= passed.mean() <= high
