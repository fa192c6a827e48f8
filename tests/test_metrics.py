import numpy as np

from spectro.metrics import local_maxima, peak_position_error, relative_l2, resolved, two_line_resolution
from spectro.reconstruct import Reconstructor


def _spec(n=200, **peaks):
    x = np.zeros(n)
    for k, v in peaks.items():
        x[int(k[1:])] = v
    return x


def test_resolved_criteria():
    assert resolved(_spec(p50=1.0, p70=0.8), 50, 70)
    assert resolved(_spec(p51=1.0, p69=0.8), 50, 70)  # within ±max(2, d/4) = 5 rows
    assert not resolved(_spec(p50=1.0), 50, 70)  # one line missing
    assert not resolved(_spec(p58=1.0, p62=0.8), 50, 70)  # both peaks outside tolerance
    assert not resolved(_spec(p50=1.0, p70=0.8, p150=0.5), 50, 70)  # spurious peak > 0.5 × smaller
    assert resolved(_spec(p50=1.0, p70=0.8, p150=0.3), 50, 70)
    flat = _spec(p50=1.0, p70=0.8)
    flat[51:70] = 0.75  # the dip is not deep enough (> 0.8 × 0.8)
    assert not resolved(flat, 50, 70)


def test_local_maxima_and_peak_error():
    x = _spec(p10=1.0, p11=1.0, p40=0.5)
    assert local_maxima(x).tolist() == [10, 40]
    wl = np.arange(200) * 0.05 + 1500
    err = peak_position_error(x, wl, np.array([1500.5, 1502.1, 1509.0]))
    np.testing.assert_allclose(err, [0.0, 0.1, 7.0])


def test_relative_l2():
    t = np.array([[0, 1.0, 0, 0]])
    assert relative_l2(t, t)[0] == 0
    assert relative_l2(2 * t, t)[0] == 1.0


def test_two_line_resolution_is_finite_and_improves_with_snr(ref_cal, ref_params):
    rec = Reconstructor(ref_cal)
    seps = np.array([0.4, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0])
    low = two_line_resolution(ref_params, rec, 25.0, separations_nm=seps, trials=32, seed=3)
    high = two_line_resolution(ref_params, rec, 45.0, separations_nm=seps, trials=32, seed=3)
    assert np.isfinite(low.resolution_nm) and high.resolution_nm <= low.resolution_nm
    assert high.success_rate[-1] >= 0.9
    assert "trials" in low.summary()
