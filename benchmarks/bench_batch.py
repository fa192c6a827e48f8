"""Batch reconstruction at scale: HDF5-to-HDF5 throughput against the in-memory pipeline on
the same sweeps, and the speed-up from 1 to 2 worker processes.

    python benchmarks/bench_batch.py [--files 4] [--sweeps 8192] [--no-denoise]

In-memory: the same work without files — denoise (ONNX, the guard) and NNLS on arrays
already in memory, one thread. Files: ``spectro reconstruct`` on the recordings with
``--workers 1`` and ``--workers 2`` (one compute thread per worker).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--sweeps", type=int, default=8192, help="sweeps per file")
    ap.add_argument("--no-denoise", action="store_true")
    args = ap.parse_args(argv)
    single = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    tmp = Path(tempfile.mkdtemp())
    for i in range(args.files):
        subprocess.run([sys.executable, "-m", "spectro", "simulate", "--count", str(args.sweeps), "--seed", str(i),
                        "--source", "lines:1530@0.5,1531.2@0.5", "--out", str(tmp / f"r{i}.h5")], check=True, capture_output=True)
    total = args.files * args.sweeps
    den_flag = ["--no-denoise"] if args.no_denoise else []

    # In memory, one thread (a child process, so the BLAS thread setting takes effect).
    code = f"""
import time, numpy as np, h5py
from calibration import reference
from spectro.denoiser import DEFAULT_MODEL_PATH, Denoiser
from spectro.guard import NoiseGuard
from spectro.pipeline import denoise_slab
from spectro.reconstruct import Reconstructor
cal = reference.load_reference()
X = np.concatenate([h5py.File(r"{tmp}/r%d.h5" % i)["entry/sweeps/interferogram"][()] for i in range({args.files})])
den = None if {args.no_denoise} else Denoiser(DEFAULT_MODEL_PATH, mode="batch", threads=1)
guard, rec = NoiseGuard(cal), Reconstructor(cal)
t0 = time.perf_counter()
for s in range(0, len(X), 4096):
    x = X[s:s + 4096]
    y = denoise_slab(den, guard, x)[0] if den else x.astype(np.float64)
    rec(y)
print(time.perf_counter() - t0)
"""
    mem = float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env={**os.environ, **single}).stdout)
    # The same in-memory job twice at once: does the compute itself scale to 2 cores?
    pair = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env={**os.environ, **single}) for _ in range(2)]
    both = [float(p.communicate()[0]) for p in pair]
    rows = [("in memory, 1 thread", mem)]
    for workers in (1, 2):
        out = tmp / f"out{workers}"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "spectro", "reconstruct", *sorted(map(str, tmp.glob("r*.h5"))), "--out-dir", str(out),
                        "--workers", str(workers), *den_flag], check=True, capture_output=True, env={**os.environ, **single})
        rows.append((f"spectro reconstruct --workers {workers}", time.perf_counter() - t0))
    print(f"machine: {machine()}; {args.files} files × {args.sweeps} sweeps, {'no denoising' if args.no_denoise else 'shipped denoiser + guard'}\n")
    print("| run | seconds | sweeps/s | vs in memory |\n|---|---|---|---|")
    for name, sec in rows:
        print(f"| {name} | {sec:.2f} | {total / sec:.0f} | {mem / sec:.2f}× |")
    print(f"\nspeed-up 1 → 2 workers: {rows[1][1] / rows[2][1]:.2f}× (process start-up and imports included)")
    print(f"two in-memory jobs at once: each at {mem / max(both):.2f}–{mem / min(both):.2f} of one alone")
    import shutil

    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
