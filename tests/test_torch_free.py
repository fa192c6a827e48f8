"""The runtime (spectro, firmware_bridge, calibration) must run where torch is absent."""

import subprocess
import sys
import textwrap

import h5py

from spectro.denoiser import DEFAULT_MODEL_PATH, Denoiser

BLOCK_TORCH = textwrap.dedent(
    """
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
    sys.meta_path.insert(0, _Block())
    """
)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_runtime_imports_do_not_pull_torch():
    r = _run(
        """
        import spectro, spectro.cli, spectro.reconstruct, spectro.pipeline, spectro.metrics, spectro.recording, spectro.denoiser
        import firmware_bridge, calibration, calibration.calfile, calibration.forward, calibration.sweep
        assert "torch" not in sys.modules, "torch was imported"
        print("ok")
        """
    )
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_cli_reconstruct_runs_with_torch_blocked(tmp_path):
    rec, out = tmp_path / "rec.h5", tmp_path / "out.h5"
    r = _run(
        f"""
        from spectro.cli import main
        assert main(["simulate", "--count", "5", "--out", {str(rec)!r}]) == 0
        assert main(["reconstruct", {str(rec)!r}, "--out", {str(out)!r}, "--model", {str(DEFAULT_MODEL_PATH)!r}]) == 0
        assert main(["info", "--json"]) == 0
        assert "torch" not in sys.modules and "onnx" not in sys.modules
        """
    )
    assert r.returncode == 0, r.stderr
    with h5py.File(out) as f:  # the model really ran: denoised sweeps sit beside the spectra
        assert f["entry/sweeps/denoised"].shape == f["entry/sweeps/interferogram"].shape
        assert f["entry/process/model_sha256"][()].decode() == Denoiser(DEFAULT_MODEL_PATH).model_hash
