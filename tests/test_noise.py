import numpy as np
import pytest

from calibration import physics, sources
from calibration.forward import apply_noise, clean_interferograms, simulate
from calibration.noise import REALISTIC, NoiseModel, add_white_noise, snr_db


def _two_lines(params, n):
    s = np.zeros((n, params.n_wavelengths))
    s[:, 1000] = 1.0
    s[:, 1030] = 0.8
    return s


def test_snr_definition_includes_dc():
    clean = np.full((1, 64), 2.0)
    noisy = clean + 0.02
    # Σ I1² = 64·4, Σ e² = 64·4e-4 → 40 dB exactly
    assert snr_db(clean, noisy)[0] == pytest.approx(40.0)


@pytest.mark.parametrize("target", [30.0, 36.0])
def test_white_noise_hits_target_snr_over_a_batch(ref_params, rng, target):
    clean = clean_interferograms(ref_params, _two_lines(ref_params, 2000))
    noisy = add_white_noise(clean, target, rng)
    measured = snr_db(clean, noisy)
    assert abs(np.mean(measured) - target) < 0.3
    # pooled over the batch too
    assert abs(10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2)) - target) < 0.3


def test_per_sample_snr_array(ref_params, rng):
    clean = clean_interferograms(ref_params, _two_lines(ref_params, 4000))
    snrs = np.repeat([25.0, 45.0], 2000)
    m = snr_db(clean, add_white_noise(clean, snrs, rng))
    assert abs(m[:2000].mean() - 25) < 0.3 and abs(m[2000:].mean() - 45) < 0.3


def test_noise_terms_are_off_by_default(ref_params, rng):
    s = _two_lines(ref_params, 4)
    clean, noisy = simulate(ref_params, s, NoiseModel(), rng)
    np.testing.assert_array_equal(clean, noisy)
    np.testing.assert_allclose(clean, s @ physics.ideal_matrix(ref_params) + ref_params.dark_offset)


@pytest.mark.parametrize(
    "term",
    [
        {"shot_electrons": 1e5}, {"intensity_sigma": 0.01}, {"intensity_walk": 0.002}, {"voltage_jitter_v": 0.01},
        {"opd_jitter_nm": 2.0}, {"drift_amplitude_nm": 20.0}, {"adc_bits": 10}, {"mismatch_opd_scale": 1e-3},
        {"mismatch_phase_rad": 0.05},
    ],
)
def test_each_noise_term_changes_the_signal(ref_params, term):
    s = _two_lines(ref_params, 8)
    base, _ = simulate(ref_params, s, NoiseModel(), np.random.default_rng(0), sweep_index=np.arange(100, 108))
    clean, noisy = simulate(ref_params, s, NoiseModel(**term), np.random.default_rng(0), sweep_index=np.arange(100, 108))
    snr = snr_db(base, noisy)
    assert np.all(np.isfinite(snr)) and np.all(snr > 10) and np.all(snr < 120), (term, snr)


def test_adc_quantises_to_lsb(ref_params, rng):
    clean = clean_interferograms(ref_params, _two_lines(ref_params, 2))
    q = apply_noise(clean, NoiseModel(adc_bits=8, adc_full_scale=4.0), rng)
    lsb = 4.0 / 256
    np.testing.assert_allclose(q / lsb, np.round(q / lsb), atol=1e-9)


def test_realistic_noise_is_moderate(ref_params, rng):
    wl = ref_params.wavelengths_nm()
    s = np.repeat(sources.lines(wl, [1550, 1552])[None], 50, axis=0)
    clean, noisy = simulate(ref_params, s, REALISTIC, rng)
    ideal, _ = simulate(ref_params, s, NoiseModel(), rng)
    assert 30 < np.median(snr_db(ideal, noisy)) < 60


def test_noise_model_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown noise term key"):
        NoiseModel.from_dict({"white_snr_db": 30, "hum": 1})
    assert NoiseModel.from_dict(REALISTIC.to_dict()) == REALISTIC


def test_add_noise_rejects_nan(rng):
    from calibration.errors import DataError

    with pytest.raises(DataError):
        add_white_noise(np.array([[1.0, np.nan]]), 30, rng)
