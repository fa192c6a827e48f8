import numpy as np

from spectro.cli import main
from spectro.demo import run_demo


def test_demo_end_to_end(tmp_path):
    lines = []
    result = run_demo(tmp_path / "demo", sweeps=30, echo=lines.append)
    assert {p.name for p in (tmp_path / "demo").iterdir()} == {"recording.h5", "spectra.h5", "demo.png"}
    assert (tmp_path / "demo" / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.all(result["detection_rate"] >= 0.8)
    assert np.all(result["median_error_nm"] <= 0.3)
    assert result["resolution_nm"][35.0] <= result["resolution_nm"][25.0] <= 2.0
    assert any("two-line resolution at 30 dB" in line for line in lines)


def test_demo_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "spectra.h5").write_bytes(b"x")
    assert main(["demo", "--out-dir", str(tmp_path / "d"), "--sweeps", "5"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "d" / "spectra.h5").read_bytes() == b"x"
