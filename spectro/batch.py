"""Batch reconstruction: many recordings, one output each, in worker processes or on a Dask
cluster (``spectro reconstruct A.h5 B.h5 … --out-dir OUT [--workers N | --dask ADDRESS]``).

A :class:`Job` carries paths and settings only; every worker opens the calibration, the
model session and the files itself, with one compute thread, so workers neither share state
nor oversubscribe the cores. A failing file is reported and the others still complete;
each output is written atomically by :func:`spectro.pipeline.reconstruct_file`.
"""

from __future__ import annotations

import contextlib
import os
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from calibration.errors import CalibrationError, DataError, ModelFormatError, SpectroError

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


@dataclass(frozen=True)
class Job:
    input: str
    output: str
    calibration: str | None = None  # None: the shipped reference calibration
    method: str = "nnls"
    options: dict = field(default_factory=dict)
    model: str | None = None  # ONNX path; None: no denoising
    detector: str | None = None  # fault detector ONNX path; None: no fault flags
    force: bool = False
    guard_threshold: float | None = 3.0
    overwrite: bool = False
    threads: int | None = None  # onnxruntime threads; None: all cores


@dataclass(frozen=True)
class Result:
    job: Job
    sweeps: int = 0
    seconds: float = 0.0
    error: str | None = None
    kind: str | None = None  # "data" for bad inputs/calibration/model, "error" otherwise

    @property
    def ok(self) -> bool:
        return self.error is None


def plan(inputs: Sequence[str], out_dir: str | os.PathLike, **settings) -> list[Job]:
    """One job per input, output ``OUT_DIR/<input file name>``; refuses clashing names and an
    output that would be its own input."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SpectroError(f"--out-dir {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    seen: dict[str, str] = {}
    jobs = []
    for src in inputs:
        name = Path(src).name
        if name in seen:
            raise SpectroError(f"{src} and {seen[name]} would both be written to {out / name}; give inputs distinct file names")
        seen[name] = src
        dst = out / name
        if dst.exists() and Path(src).exists() and dst.resolve() == Path(src).resolve():
            raise SpectroError(f"--out-dir {out} holds the input {src}; choose another folder")
        jobs.append(Job(input=os.fspath(src), output=os.fspath(dst), **settings))
    return jobs


def run_job(job: Job, on_progress: Callable[[int], None] | None = None) -> Result:
    """Reconstruct one file; every error becomes a :class:`Result` (never raises)."""
    from calibration import calfile, reference
    from spectro.anomaly import FaultDetector
    from spectro.denoiser import Denoiser
    from spectro.pipeline import reconstruct_file

    try:
        cal = reference.load_reference() if job.calibration is None else calfile.load(job.calibration)
        den = Denoiser(job.model, calibration_id=cal.calibration_id, force=job.force, mode="batch", threads=job.threads) if job.model else None
        det = FaultDetector(job.detector, calibration_id=cal.calibration_id, force=job.force, mode="batch", threads=job.threads) if job.detector else None
        s = reconstruct_file(job.input, job.output, cal, method=job.method, options=job.options, overwrite=job.overwrite,
                             denoiser=den, guard_threshold=job.guard_threshold, detector=det, on_progress=on_progress)
        return Result(job, s.sweeps, s.seconds)
    except (DataError, CalibrationError, ModelFormatError) as exc:
        return Result(job, error=str(exc), kind="data")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        return Result(job, error=f"{type(exc).__name__}: {exc}", kind="error")


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Children inherit these at start-up, before numpy loads its BLAS."""
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update({k: "1" for k in THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _worker(job: Job, progress) -> Result:
    return run_job(job, on_progress=(lambda n: progress.put(n)) if progress is not None else None)


def run_local(jobs: Sequence[Job], workers: int = 1, on_progress: Callable[[int], None] | None = None,
              on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Run jobs in this process (``workers=1``) or in ``workers`` spawned processes."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    results = []
    if workers == 1:
        for job in jobs:
            results.append(run_job(job, on_progress))
            if on_result:
                on_result(results[-1])
        return results
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # a clean interpreter per worker: no inherited sessions or threads
    jobs = [Job(**{**job.__dict__, "threads": 1}) for job in jobs]
    with ctx.Manager() as manager, _single_threaded_children(), ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        progress = manager.Queue() if on_progress else None
        pending = {pool.submit(_worker, job, progress) for job in jobs}
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(progress, on_progress)
            for fut in done:
                results.append(fut.result())
                if on_result:
                    on_result(results[-1])
        _drain(progress, on_progress)
    order = {job.input: i for i, job in enumerate(jobs)}
    return sorted(results, key=lambda r: order[r.job.input])


def _drain(progress, on_progress) -> None:
    while progress is not None:
        try:
            on_progress(progress.get_nowait())
        except queue.Empty:
            return


def run_dask(jobs: Sequence[Job], address: str, on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """One task per file on an existing Dask distributed cluster (the [dask] extra)."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise SpectroError(f"--dask needs Dask distributed: pip install 'spectro-toolkit[dask]' ({exc})") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise SpectroError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        futures = client.map(run_job, list(jobs), pure=False)
        results = {}
        for fut in as_completed(futures):
            try:
                r = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died: report the file, keep going
                job = jobs[futures.index(fut)]
                r = Result(job, error=f"Dask task failed: {exc}", kind="error")
            results[r.job.input] = r
            if on_result:
                on_result(r)
        return [results[job.input] for job in jobs]
    finally:
        client.close()


def summary_line(results: Sequence[Result], seconds: float) -> str:
    ok = [r for r in results if r.ok]
    sweeps = sum(r.sweeps for r in ok)
    rate = sweeps / seconds if seconds > 0 else float("inf")
    return f"{len(ok)}/{len(results)} files, {sweeps} sweeps in {seconds:.1f} s ({rate:.0f} sweeps/s)"

