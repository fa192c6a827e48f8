import io

import numpy as np
import pytest

from calibration import sources
from spectro.cli import main
from spectro.progress import Progress

WL = np.linspace(1480, 1630, 3001)


def test_parse_lines_and_amplitudes():
    s, lines = sources.parse_source("lines:1500,1550.5@0.5", WL)
    assert lines.tolist() == [1500.0, 1550.5]
    assert s[np.argmin(abs(WL - 1500))] == 1.0 and s[np.argmin(abs(WL - 1550.5))] == 0.5
    assert s.sum() == pytest.approx(1.5)


@pytest.mark.parametrize("spec", ["lamp", "lamp:3200", "led:1550,30", "absorption"])
def test_broadband_sources_are_nonnegative(spec):
    s, lines = sources.parse_source(spec, WL)
    assert lines is None and np.all(s >= 0) and s.sum() == pytest.approx(20.0, rel=0.5)


def test_file_source(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("1500,1\n1600,3\n")
    s, _ = sources.parse_source(f"file:{p}", WL)
    assert s[0] == 0 and s[np.argmin(abs(WL - 1550))] == pytest.approx(2.0)


@pytest.mark.parametrize("spec, message", [
    ("laser:1550", "unknown source kind"), ("lines:", "at least one line"), ("lines:1400", "must lie in"),
    ("led:1550", "bad source spec"), ("file:/nonexistent.csv", "bad source spec"),
])
def test_bad_source_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        sources.parse_source(spec, WL)


def test_cli_rejects_bad_source(tmp_path, capsys):
    assert main(["simulate", "--source", "laser:1550", "--out", str(tmp_path / "r.h5")]) == 2
    assert "unknown source kind" in capsys.readouterr().err
    assert not (tmp_path / "r.h5").exists()


def test_progress_line_only_when_enabled():
    t = [0.0]
    out = io.StringIO()
    p = Progress(100, stream=out, enabled=True, clock=lambda: t[0])
    t[0] = 1.0
    p.update(50)
    t[0] = 2.0
    p.update(50)
    p.close()
    text = out.getvalue()
    assert "100/100 sweeps" in text and "50/s" in text and "ETA" in text and text.endswith("\n")
    quiet = io.StringIO()
    q = Progress(10, stream=quiet)  # a StringIO is not a terminal: silent
    q.update(10)
    q.close()
    assert quiet.getvalue() == ""
