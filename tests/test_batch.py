"""Batch reconstruction (workers, Dask) and third-party readers of the recording format."""

import shutil
import subprocess

import h5py
import numpy as np
import pytest

from spectro.cli import main


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    for i in range(3):
        assert main(["simulate", "--count", "40", "--seed", str(i), "--source", "lines:1530@0.5,1531.5@0.5", "--out", str(d / f"r{i}.h5")]) == 0
    (d / "broken.h5").write_bytes((d / "r0.h5").read_bytes()[:3000])  # truncated copy
    return d


def _same_spectra(a, b):
    with h5py.File(a) as f, h5py.File(b) as g:
        return np.array_equal(f["entry/spectra/spectrum"][()], g["entry/spectra/spectrum"][()])


def test_two_workers_one_output_each_failures_named(recordings, tmp_path, capsys):
    inputs = sorted(str(p) for p in recordings.glob("*.h5"))
    out = tmp_path / "out"
    assert main(["reconstruct", *inputs, "--out-dir", str(out), "--workers", "2"]) == 3
    captured = capsys.readouterr()
    assert "broken.h5" in captured.err and "truncated" in captured.err and "3/4 files" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["r0.h5", "r1.h5", "r2.h5"]  # no temporary left behind
    single = tmp_path / "single.h5"
    assert main(["reconstruct", inputs[1], "--out", str(single)]) == 0
    assert _same_spectra(single, out / "r0.h5")  # workers compute what one process computes
    with h5py.File(out / "r1.h5") as f:
        p = f["entry/process"]
        assert p["input_file"][()].decode().endswith("r1.h5") and len(p["model_sha256"][()]) == 64
        assert p["method"][()] == b"nnls" and p["version"][()] and p["date"][()]
    # outputs exist now: a second run refuses them all, without touching them
    before = (out / "r1.h5").read_bytes()
    assert main(["reconstruct", *inputs[1:], "--out-dir", str(out)]) != 0
    assert (out / "r1.h5").read_bytes() == before


def test_usage_errors(recordings, tmp_path):
    a, b = str(recordings / "r0.h5"), str(recordings / "r1.h5")
    assert main(["reconstruct", a, b, "--out", str(tmp_path / "x.h5")]) == 2
    assert main(["reconstruct", a]) == 2
    assert main(["reconstruct", a, "--out-dir", str(tmp_path), "--workers", "0"]) == 2
    assert main(["reconstruct", a, "--out-dir", str(recordings)]) == 1  # would overwrite its own input


def test_dask_local_cluster(recordings, tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        inputs = [str(recordings / f"r{i}.h5") for i in range(3)] + [str(recordings / "broken.h5")]
        assert main(["reconstruct", *inputs, "--out-dir", str(tmp_path), "--dask", cluster.scheduler_address, "--no-denoise"]) == 3
    assert "broken.h5" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r0.h5", "r1.h5", "r2.h5"]
    with h5py.File(tmp_path / "r2.h5") as f:
        assert f["entry/spectra/spectrum"].shape == (40, 3001) and "denoised" not in f["entry/sweeps"]


def test_recording_reads_in_nexusformat(recordings, tmp_path):
    nexus = pytest.importorskip("nexusformat.nexus")
    out = tmp_path / "out.h5"
    assert main(["reconstruct", str(recordings / "r0.h5"), "--out", str(out)]) == 0
    root = nexus.nxload(str(out))
    plot = root.plottable_data  # follows @default from the root to the NXdata
    assert plot.nxsignal.nxname == "spectrum" and plot.nxsignal.shape == (40, 3001)
    assert plot.nxaxes[-1].nxname == "wavelength_nm" and plot.nxaxes[-1].attrs["units"] == "nm"
    assert root.entry.sweeps.nxsignal.nxname == "interferogram"
    assert root.entry.process.nxclass == "NXprocess"


@pytest.mark.skipif(shutil.which("h5dump") is None, reason="h5dump (Debian hdf5-tools) not installed")
def test_recording_reads_in_h5dump(recordings):
    r = subprocess.run(["h5dump", "-A", str(recordings / "r0.h5")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "interferogram" in r.stdout and "NXdata" in r.stdout, r.stderr
