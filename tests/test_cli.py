"""The CLI, in-process: calibrate, simulate, reconstruct, and every bad input."""

import h5py
import numpy as np
import pytest

from calibration import calfile, reference
from spectro.cli import main


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "rec.h5"
    assert main(["simulate", "--source", "lines:1520,1560@0.7", "--count", "37", "--snr", "35", "--out", str(path)]) == 0
    return path


def _files(d):
    return sorted(p.name for p in d.iterdir())


def test_calibrate_simulate(tmp_path, capsys):
    out = tmp_path / "cal.h5"
    assert main(["calibrate", "--simulate", "--out", str(out)]) == 0
    assert calfile.load(out).calibration_id == reference.load_reference().calibration_id
    assert "calibration_id" in capsys.readouterr().out
    assert main(["calibrate", "--simulate", "--seed", "3", "--out", str(out)]) == 1  # exists
    assert main(["calibrate", "--simulate", "--seed", "3", "--out", str(out), "--overwrite"]) == 0
    assert calfile.load(out).device == "simulated-seed-3"


def test_calibrate_from_sweep(tmp_path, ref_params):
    from calibration import sweep

    sweep.save_sweep(sweep.simulate_sweep(ref_params, repeats=2), tmp_path / "sweep.h5")
    assert main(["calibrate", str(tmp_path / "sweep.h5"), "--out", str(tmp_path / "cal.h5")]) == 0
    assert calfile.load(tmp_path / "cal.h5").source == "sweep"
    assert main(["calibrate", "--out", str(tmp_path / "x.h5")]) == 2  # neither sweep nor --simulate


def test_reconstruct_layout(tmp_path, recording):
    out = tmp_path / "out.h5"
    assert main(["reconstruct", str(recording), "--out", str(out)]) == 0
    with h5py.File(out) as f:
        assert f.attrs["default"] == "entry"
        assert f["entry"].attrs["NX_class"] == "NXentry"
        spectra = f["entry/spectra"]
        assert spectra.attrs["NX_class"] == "NXdata" and spectra.attrs["signal"] == "spectrum"
        assert spectra["spectrum"].shape == (37, 3001) and spectra["spectrum"].dtype == np.float32
        assert spectra["wavelength_nm"].attrs["units"] == "nm"
        assert f["entry/sweeps/interferogram"].shape == (37, 64)
        np.testing.assert_array_equal(f["entry/sweeps/sequence"][()], np.arange(37))
        assert f["entry/process/calibration_id"][()].decode() == reference.load_reference().calibration_id
        # the lines come out where they were put
        mean = spectra["spectrum"][()].mean(axis=0)
        wl = spectra["wavelength_nm"][()]
        top = wl[np.argsort(mean)[-60:]]
        assert np.any(np.abs(top - 1520) < 0.3) and np.any(np.abs(top - 1560) < 0.3)


def test_minimal_input_and_chunked_streaming(tmp_path, recording, ref_cal):
    from spectro.pipeline import reconstruct_file

    with h5py.File(recording) as f:
        ifg = f["entry/sweeps/interferogram"][()]
    minimal = tmp_path / "minimal.h5"
    with h5py.File(minimal, "w") as f:
        f["entry/sweeps/interferogram"] = ifg.astype(np.float64)
    reconstruct_file(minimal, tmp_path / "a.h5", ref_cal, chunk=5)
    reconstruct_file(minimal, tmp_path / "b.h5", ref_cal)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        np.testing.assert_array_equal(a["entry/spectra/spectrum"][()], b["entry/spectra/spectrum"][()])
        assert a["entry/sweeps/interferogram"].dtype == np.float64  # raw data kept as recorded


def test_reconstruct_never_overwrites(tmp_path, recording, capsys):
    out = tmp_path / "out.h5"
    out.write_bytes(b"keep me")
    assert main(["reconstruct", str(recording), "--out", str(out)]) == 1
    assert out.read_bytes() == b"keep me"
    err = capsys.readouterr().err
    assert "exists" in err and "--overwrite" in err and err.count("\n") == 1


def _bad_recording(path, data, **extra):
    with h5py.File(path, "w") as f:
        if data is not None:
            f["entry/sweeps/interferogram"] = data
        for k, v in extra.items():
            f[k] = v
    return path


@pytest.mark.parametrize(
    "make, code, message",
    [
        (lambda p: _bad_recording(p, np.ones((5, 32))), 3, "32 voltages per sweep but the calibration has 64"),
        (lambda p: _bad_recording(p, np.ones((5, 64, 2))), 3, "must be 2-D"),
        (lambda p: _bad_recording(p, np.where(np.arange(64) == 3, np.nan, np.ones((5, 64)))), 3, "sweep 0 .* NaN/Inf"),
        (lambda p: _bad_recording(p, None, **{"entry/other": np.ones(3)}), 3, "no /entry/sweeps/interferogram"),
        (lambda p: _bad_recording(p, np.ones((5, 64)), **{"entry/sweeps/voltage_v": np.linspace(0, 30, 64)}), 3, "voltage table differs"),
        (lambda p: (p.write_text("not hdf5"), p)[1], 3, "not an HDF5 file"),
    ],
)
def test_bad_recordings(tmp_path, capsys, make, code, message):
    src = make(tmp_path / "in.h5")
    out = tmp_path / "out.h5"
    assert main(["reconstruct", str(src), "--out", str(out)]) == code
    err = capsys.readouterr().err
    assert pytest.importorskip("re").search(message, err), err
    assert not out.exists() and _files(tmp_path) == ["in.h5"]  # nothing half-written


def test_truncated_recording(tmp_path, recording, capsys):
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(recording.read_bytes()[: recording.stat().st_size // 2])
    assert main(["reconstruct", str(trunc), "--out", str(tmp_path / "o.h5")]) == 3
    assert "truncated or corrupt" in capsys.readouterr().err
    assert not (tmp_path / "o.h5").exists()


def test_bad_calibration_and_method(tmp_path, recording, capsys):
    bad_cal = tmp_path / "cal.h5"
    bad_cal.write_text("nope")
    assert main(["reconstruct", str(recording), "--calibration", str(bad_cal), "--out", str(tmp_path / "o.h5")]) == 3
    with pytest.raises(SystemExit) as e:
        main(["reconstruct", str(recording), "--method", "fft", "--out", str(tmp_path / "o.h5")])
    assert e.value.code == 2
    assert "invalid choice: 'fft'" in capsys.readouterr().err
    assert main(["reconstruct", str(recording), "--option", "bogus=1", "--out", str(tmp_path / "o.h5")]) == 2
    assert "valid options" in capsys.readouterr().err
    assert not (tmp_path / "o.h5").exists()


def test_other_calibration_and_methods(tmp_path, recording):
    cal = tmp_path / "cal.h5"
    main(["calibrate", "--simulate", "--seed", "2", "--out", str(cal)])
    for method in ("sparse", "smooth"):
        out = tmp_path / f"{method}.h5"
        assert main(["reconstruct", str(recording), "--calibration", str(cal), "--method", method, "--out", str(out)]) == 0
        with h5py.File(out) as f:
            assert f["entry/process/method"][()].decode() == method


def test_debug_shows_traceback(tmp_path, capsys):
    assert main(["--debug", "reconstruct", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "o.h5")]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_resolution_json(capsys):
    import json

    assert main(["resolution", "--snr", "40", "--trials", "32", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["resolution_nm"] <= 1.0
