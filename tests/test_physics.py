import dataclasses

import numpy as np
import pytest

from calibration import physics
from calibration.matrix import Q_PAD_ROWS, numerical_rank, padded_q
from calibration.physics import DeviceParams, device_from_seed


def test_matrix_grid_and_range(ref_params):
    P = physics.ideal_matrix(ref_params)
    assert P.shape == (3001, 64)
    wl = ref_params.wavelengths_nm()
    assert wl[0] == 1480.0 and wl[-1] == 1630.0 and np.allclose(np.diff(wl), 0.05)
    assert P.min() > 0  # intensities: envelope × ½(1 + v cos) with v < 1


def test_opd_is_a_chirp_from_zero(ref_params):
    opd = physics.opd_um(ref_params, np.array([ref_params.center_nm]), ref_params.voltages_v())[0]
    assert opd[0] == pytest.approx(0.0, abs=1e-9)
    assert opd[-1] == pytest.approx(ref_params.opd_max_um, rel=1e-9)
    steps = np.diff(opd)
    assert np.all(steps > 0) and np.all(np.diff(steps) > 0)  # V² actuation: steps grow


def test_fts_like_matrix_has_high_rank_but_mzi_does_not(ref_params):
    assert numerical_rank(physics.ideal_matrix(ref_params)) >= 48
    mzi = dataclasses.replace(ref_params, opd_max_um=2.0)  # a few-π phase shifter
    assert numerical_rank(physics.ideal_matrix(mzi)) <= 8


def test_q_appends_first_100_rows(ref_params):
    P = physics.ideal_matrix(ref_params)
    Q = padded_q(P)
    assert Q.shape == (3101, 64)
    np.testing.assert_array_equal(Q[:3001], P)
    np.testing.assert_array_equal(Q[-Q_PAD_ROWS:], P[:Q_PAD_ROWS])
    # every 101-row window starting at any row <= 3000 exists
    assert Q[3000:3101].shape == (101, 64)


def test_dark_offset_and_response_shape(ref_params):
    with_dark = physics.response(ref_params)
    without = physics.response(ref_params, include_dark=False)
    np.testing.assert_allclose(with_dark - without, ref_params.dark_offset)
    batch = physics.response(ref_params, voltages_v=np.tile(ref_params.voltages_v(), (3, 1)))
    assert batch.shape == (3, 3001, 64)
    np.testing.assert_allclose(batch[1], with_dark)


def test_seed_zero_is_reference_and_other_seeds_differ():
    assert device_from_seed(0) == DeviceParams()
    a, b = device_from_seed(1), device_from_seed(2)
    assert a != b and a != DeviceParams()
    assert device_from_seed(1) == a  # reproducible


def test_device_params_reject_unknown_keys():
    with pytest.raises(ValueError, match="unknown device parameter key"):
        DeviceParams.from_dict({"opd_max_um": 500, "bogus": 1})
    assert DeviceParams.from_dict(DeviceParams().to_dict()) == DeviceParams()
