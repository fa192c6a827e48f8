import dataclasses

import h5py
import numpy as np
import pytest

from calibration import calfile, reference, sweep
from calibration.errors import CalibrationError, OutputExistsError
from calibration.matrix import Calibration


def test_round_trip_and_id(tmp_path, ref_cal):
    p = tmp_path / "cal.h5"
    calfile.save(ref_cal, p)
    back = calfile.load(p)
    np.testing.assert_array_equal(back.matrix, ref_cal.matrix)
    assert back.calibration_id == ref_cal.calibration_id
    assert back.device == "reference"
    with h5py.File(p) as f:
        assert f["matrix"].shape == (3001, 64) and f["wavelength_nm"].shape == (3001,) and f["voltage_v"].shape == (64,)
        assert {"calibration_id", "device", "created", "schema_version"} <= set(f.attrs)


def test_shipped_reference_matches_the_physics_model(ref_cal):
    fresh = reference.simulated(0)
    np.testing.assert_allclose(ref_cal.matrix, fresh.matrix, atol=1e-6)
    assert ref_cal.source == "simulated" and calfile.device_params(ref_cal) == reference.reference_params().to_dict()


def test_other_seed_is_another_device():
    assert reference.simulated(7).calibration_id != reference.simulated(0).calibration_id


def test_save_never_overwrites(tmp_path, ref_cal):
    p = tmp_path / "cal.h5"
    p.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        calfile.save(ref_cal, p)
    assert p.read_bytes() == b"precious"
    calfile.save(ref_cal, p, overwrite=True)
    assert calfile.load(p).calibration_id == ref_cal.calibration_id
    assert [x.name for x in tmp_path.iterdir()] == ["cal.h5"]  # no temporary left behind


def _write(path, **overrides):
    cal = reference.load_reference()
    data = {"matrix": cal.matrix, "wavelength_nm": cal.wavelength_nm, "voltage_v": cal.voltage_v, "dark": cal.dark}
    data.update(overrides)
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            if v is not None:
                f[k] = v
    return path


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"matrix": np.ones((3001, 64, 1))}, "must be 2-D"),
        ({"matrix": reference.load_reference().matrix.T.copy()}, "wavelength_nm has shape"),
        ({"wavelength_nm": np.linspace(1480, 1630, 3000)}, "wavelength_nm has shape"),
        ({"voltage_v": np.arange(63.0)}, "voltage_v has shape"),
        ({"wavelength_nm": np.r_[np.linspace(1480, 1630, 3001)[:-2], 1629.0, 1628.0]}, "strictly increasing"),
        ({"matrix": np.where(np.arange(64) == 5, np.nan, reference.load_reference().matrix)}, "non-finite"),
        ({"matrix": np.tile(reference.load_reference().matrix[:, :4], 16)}, "numerical rank"),
        ({"matrix": None}, "missing dataset"),
    ],
)
def test_bad_calibration_files(tmp_path, overrides, message):
    p = _write(tmp_path / "bad.h5", **overrides)
    with pytest.raises(CalibrationError, match=message):
        calfile.load(p)


def test_not_hdf5_truncated_missing(tmp_path):
    txt = tmp_path / "cal.txt"
    txt.write_text("matrix 1 2 3")
    with pytest.raises(CalibrationError, match="not an HDF5 file"):
        calfile.load(txt)
    good = tmp_path / "good.h5"
    calfile.save(reference.load_reference(), good)
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(CalibrationError):
        calfile.load(trunc)
    with pytest.raises(CalibrationError, match="does not exist"):
        calfile.load(tmp_path / "nope.h5")


def test_tampered_file_is_detected(tmp_path, ref_cal):
    p = tmp_path / "cal.h5"
    calfile.save(ref_cal, p)
    with h5py.File(p, "r+") as f:
        f["matrix"][10, 10] = f["matrix"][10, 10] + 0.01
    with pytest.raises(CalibrationError, match="does not match its content"):
        calfile.load(p)


def test_calibration_from_a_sweep(tmp_path, ref_params):
    sw = sweep.simulate_sweep(ref_params, repeats=4, noise_sigma=1e-3, rng=np.random.default_rng(0))
    path = tmp_path / "sweep.h5"
    sweep.save_sweep(sw, path)
    cal = sweep.build_calibration(sweep.load_sweep(path))
    ideal = reference.simulated(0)
    # repeats averaged (σ/2), dark subtracted, laser power divided out
    assert np.max(np.abs(cal.matrix - ideal.matrix)) < 5e-3
    assert np.std(cal.matrix - ideal.matrix) < 1e-3
    np.testing.assert_allclose(cal.dark, ref_params.dark_offset, atol=1e-3)
    assert cal.source == "sweep"


def test_sweep_power_must_be_positive(ref_params):
    sw = sweep.simulate_sweep(ref_params, repeats=1)
    bad = dataclasses.replace(sw, laser_power=np.zeros_like(sw.laser_power))
    with pytest.raises(CalibrationError, match="laser_power"):
        sweep.build_calibration(bad)


def test_calibration_requires_more_rows_than_columns():
    with pytest.raises(CalibrationError, match="outnumber"):
        Calibration(matrix=np.ones((10, 64)), wavelength_nm=np.arange(10.0), voltage_v=np.arange(64.0), dark=np.zeros(64))
