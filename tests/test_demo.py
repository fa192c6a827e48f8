import h5py
import numpy as np

from spectro.cli import main
from spectro.demo import run_demo


def test_demo_end_to_end(tmp_path):
    lines = []
    result = run_demo(tmp_path / "demo", sweeps=60, echo=lines.append)
    assert {p.name for p in (tmp_path / "demo").iterdir()} == {"demo.h5", "demo.png"}
    assert (tmp_path / "demo" / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["sweeps"] == 60 and result["lost"] == 0 and result["flagged"] <= 3
    assert result["snr_after_db"] > result["snr_before_db"] + 5  # the shipped denoiser ran on the in-prior source
    assert np.all(result["detection_rate"] >= 0.7) and np.all(result["median_error_nm"] <= 0.5)
    with h5py.File(tmp_path / "demo" / "demo.h5") as f:  # the recording came through the acquisition path
        assert f["entry"].attrs["device_serial"] == "EMU-0001" and f["entry/sweeps/denoised"].shape == (60, 64)
    assert any("SNR" in line and "→" in line for line in lines)


def test_demo_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "demo.h5").write_bytes(b"x")
    assert main(["demo", "--out-dir", str(tmp_path / "d"), "--sweeps", "5"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "d" / "demo.h5").read_bytes() == b"x"
