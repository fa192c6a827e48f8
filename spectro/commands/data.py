"""calibrate, reconstruct, simulate, resolution, info."""

from __future__ import annotations

import json

from spectro.commands import (
    DEFAULT_SOURCE,
    EXIT_DATA,
    EXIT_ERROR,
    EXIT_OK,
    UsageError,
    add_model_args,
    guard_threshold,
    load_calibration,
    load_denoiser,
    load_detector,
    noise_model,
    options,
)


def cmd_calibrate(args) -> int:
    from calibration import calfile, reference, sweep
    from calibration.matrix import numerical_rank
    from spectro.recording import now_iso

    if args.simulate == (args.sweep is not None):
        raise UsageError("give either a calibration sweep file or --simulate")
    if args.simulate:
        cal = reference.simulated(args.seed, now_iso())
    else:
        cal = sweep.build_calibration(sweep.load_sweep(args.sweep))
    calfile.save(cal, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out}: device {cal.device}, {cal.n_wavelengths} wavelengths "
          f"({cal.wavelength_nm[0]:g}–{cal.wavelength_nm[-1]:g} nm) × {cal.n_voltages} voltages, "
          f"rank {numerical_rank(cal.matrix)}, calibration_id {cal.calibration_id}")
    return EXIT_OK


def cmd_reconstruct(args) -> int:
    from spectro.progress import Progress

    if (args.out is None) == (args.out_dir is None):
        raise UsageError("give --out FILE (one input) or --out-dir FOLDER (any number of inputs)")
    if args.out is not None and len(args.input) > 1:
        raise UsageError(f"{len(args.input)} inputs need --out-dir FOLDER (one output per input), not --out")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    cal = load_calibration(args.calibration)
    denoiser = load_denoiser(args, cal, mode="batch")
    detector = load_detector(args, cal, mode="batch")
    if args.out is not None and args.dask is None:
        return _reconstruct_one(args, cal, denoiser, detector, Progress)
    return _reconstruct_many(args, denoiser, detector, Progress)


def _reconstruct_one(args, cal, denoiser, detector, Progress) -> int:
    from spectro.pipeline import reconstruct_file

    bar: list[Progress] = []
    summary = reconstruct_file(
        args.input[0], args.out, cal, method=args.method, options=options(args.option), overwrite=args.overwrite,
        on_start=lambda n: bar.append(Progress(n)), on_progress=lambda n: bar[0].update(n),
        denoiser=denoiser, guard_threshold=guard_threshold(args), detector=detector,
    )
    if bar:
        bar[0].close()
    model = f"denoiser {denoiser.model_hash[:12]}" if denoiser else "no denoising"
    if detector is not None:
        model += f", fault detector {detector.model_hash[:12]}"
    print(f"{summary.input} → {summary.output}: {summary.sweeps} sweeps, method {summary.method}, {model}, "
          f"calibration {summary.calibration_id}, {summary.seconds:.2f} s ({summary.rate:.0f} sweeps/s)")
    return EXIT_OK


def _reconstruct_many(args, denoiser, detector, Progress) -> int:
    import os
    import sys
    import time

    from spectro import batch
    from spectro.recording import RecordingReader

    out_dir = args.out_dir if args.out_dir is not None else os.path.dirname(os.path.abspath(args.out))
    jobs = batch.plan(args.input, out_dir, calibration=args.calibration, method=args.method, options=options(args.option),
                      model=os.fspath(denoiser.path) if denoiser else None, force=args.force, guard_threshold=guard_threshold(args),
                      detector=os.fspath(detector.path) if detector else None,
                      overwrite=args.overwrite)
    if args.out is not None:  # --dask with one input and --out
        jobs = [batch.Job(**{**jobs[0].__dict__, "output": args.out})]
    total = 0
    for job in jobs:  # sizes for the progress bar; unreadable files fail later, in their job
        try:
            with RecordingReader(job.input) as rec:
                total += rec.n_sweeps
        except Exception:  # noqa: BLE001
            pass
    bar = Progress(total)

    def on_result(r):
        if not r.ok:
            sys.stderr.write(f"\nspectro reconstruct: {r.error}\n")
        elif args.dask:
            bar.update(r.sweeps)

    t0 = time.perf_counter()
    if args.dask:
        results = batch.run_dask(jobs, args.dask, on_result=on_result)
    else:
        results = batch.run_local(jobs, args.workers, on_progress=bar.update, on_result=on_result)
    bar.close()
    print(batch.summary_line(results, time.perf_counter() - t0) + f" → {out_dir}")
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"spectro reconstruct: {len(failed)} file(s) failed: {', '.join(r.job.input for r in failed)}", file=sys.stderr)
        return EXIT_DATA if all(r.kind == "data" for r in failed) else EXIT_ERROR
    return EXIT_OK


def cmd_simulate(args) -> int:
    from calibration import sources
    from calibration.physics import device_from_seed
    from spectro.pipeline import simulate_recording

    params = device_from_seed(args.device_seed)
    spectrum, lines = sources.parse_source(args.source, params.wavelengths_nm())
    simulate_recording(args.out, params, spectrum, count=args.count, noise=noise_model(args.noise, args.snr), seed=args.seed, lines_nm=lines, overwrite=args.overwrite)
    print(f"wrote {args.out}: {args.count} sweeps of {args.source!r} at {args.snr:g} dB ({args.noise} noise), device seed {args.device_seed}")
    return EXIT_OK


def cmd_resolution(args) -> int:
    from calibration import calfile
    from calibration.physics import DeviceParams
    from spectro.metrics import two_line_resolution
    from spectro.reconstruct import Reconstructor

    cal = load_calibration(args.calibration)
    raw = calfile.device_params(cal)
    if raw is None:
        raise UsageError("two-line resolution is simulated through the physics model, so it needs a simulated calibration (spectro calibrate --simulate)")
    params = DeviceParams.from_dict(raw)
    rec = Reconstructor(cal, args.method, **options(args.option))
    rows = []
    for snr in args.snr:
        r = two_line_resolution(params, rec, snr, trials=args.trials, seed=args.seed, noise=noise_model(args.noise, snr))
        rows.append({"snr_db": snr, "resolution_nm": r.resolution_nm, "trials": r.trials,
                     "success_rate": dict(zip(map(float, r.separations_nm), map(float, r.success_rate)))})
        if not args.json:
            print(f"{args.method}: {r.summary()}")
    if args.json:
        print(json.dumps({"method": args.method, "calibration_id": cal.calibration_id, "noise": args.noise, "results": rows}, indent=2))
    return EXIT_OK


#: The backbones ``spectro train --arch`` offers (training.backbones.REGISTRY; a test keeps
#: the two equal — listed here so that ``spectro info`` needs no PyTorch).
BACKBONES = ("linear", "ae", "dae", "vae", "cae", "dcae")


def info() -> dict:
    """What this installation ships and offers (``spectro info``)."""
    import importlib.util

    from calibration import reference
    from spectro import __version__
    from spectro.anomaly import DEFAULT_DETECTOR_PATH, FaultDetector
    from spectro.denoiser import DEFAULT_MODEL_PATH, Denoiser
    from spectro.reconstruct import DEFAULT_METHOD, METHODS

    cal = reference.load_reference()
    model = Denoiser(DEFAULT_MODEL_PATH).describe() if DEFAULT_MODEL_PATH.is_file() else None
    detector = None
    if DEFAULT_DETECTOR_PATH.is_file():
        det = FaultDetector(DEFAULT_DETECTOR_PATH)
        detector = {"path": str(det.path), "model_sha256": det.model_hash, "calibration_id": det.calibration_id,
                    "threshold": det.threshold, "classes": det.classes}
    try:  # training needs the [train] extra; look for it without importing torch
        available = importlib.util.find_spec("torch") is not None
    except ImportError:
        available = False
    return {
        "version": __version__,
        "calibration": {"path": str(reference.REFERENCE_PATH), "calibration_id": cal.calibration_id, "device": cal.device,
                        "shape": list(cal.matrix.shape)},
        "model": model,
        "detector": detector,
        "methods": list(METHODS), "default_method": DEFAULT_METHOD,
        "backbones": list(BACKBONES),
        "training_available": available,
    }


def cmd_info(args) -> int:
    d = info()
    if args.json:
        print(json.dumps(d, indent=2))
        return EXIT_OK
    cal, model = d["calibration"], d["model"]
    print(f"spectro {d['version']}")
    print(f"calibration  {cal['path']}\n             device {cal['device']}, {cal['shape'][0]} × {cal['shape'][1]}, calibration_id {cal['calibration_id']}")
    if model:
        print(f"model        {model['path']}\n             sha256 {model['model_sha256']}, for calibration {model['calibration_id']}, "
              f"{model['quantisation']}, trained at {model['training_snrs_db']} dB")
    else:
        print("model        none shipped")
    det = d["detector"]
    if det:
        print(f"detector     {det['path']}\n             sha256 {det['model_sha256']}, for calibration {det['calibration_id']}, "
              f"threshold {det['threshold']:.3g}, faults: {', '.join(det['classes'][1:])}")
    print(f"methods      {', '.join(d['methods'])} (default {d['default_method']})")
    print(f"backbones    {', '.join(d['backbones'])}" + ("" if d["training_available"] else " (training needs the [train] extra: not installed)"))
    return EXIT_OK


def register(sub, method_args, common_out) -> None:
    c = sub.add_parser("calibrate", help="build a calibration file from a sweep, or simulate the reference device")
    c.add_argument("sweep", nargs="?", help="calibration sweep file (HDF5, see docs/formats.md)")
    c.add_argument("--simulate", action="store_true", help="write the simulated device instead of reading a sweep")
    c.add_argument("--seed", type=int, default=0, help="simulated device: 0 = the reference device, others = other chips of the same design")
    common_out(c)
    c.set_defaults(func=cmd_calibrate)

    r = sub.add_parser("reconstruct", help="denoise and reconstruct the spectra of recordings")
    r.add_argument("input", nargs="+", help="recordings (HDF5 with /entry/sweeps/interferogram)")
    r.add_argument("--calibration", help="calibration file (default: the shipped reference device)")
    method_args(r)
    add_model_args(r)
    r.add_argument("--out", help="output file, for one input (never overwritten unless --overwrite)")
    r.add_argument("--out-dir", help="output folder: one output per input, same file name")
    r.add_argument("--overwrite", action="store_true", help="replace existing output files")
    r.add_argument("--workers", type=int, default=1, help="worker processes, one compute thread each (default 1)")
    r.add_argument("--dask", metavar="ADDRESS", help="submit one task per file to this Dask scheduler (the [dask] extra)")
    r.set_defaults(func=cmd_reconstruct)

    s = sub.add_parser("simulate", help="simulate a recording of a source through the physics model")
    s.add_argument("--source", default=DEFAULT_SOURCE, help="lines:NM[@AMP],... | lamp | led:CENTER,FWHM | absorption | file:PATH")
    s.add_argument("--count", type=int, default=100, help="number of sweeps")
    s.add_argument("--snr", type=float, default=30.0, help="white-noise SNR in dB (paper's definition)")
    s.add_argument("--noise", choices=["white", "realistic"], default="white", help="add the physics model's structured noise terms too")
    s.add_argument("--seed", type=int, default=0, help="noise seed")
    s.add_argument("--device-seed", type=int, default=0, help="simulated device (0 = reference)")
    common_out(s)
    s.set_defaults(func=cmd_simulate)

    q = sub.add_parser("resolution", help="measure two-line resolution of a simulated device")
    q.add_argument("--calibration", help="simulated calibration file (default: the reference device)")
    method_args(q)
    q.add_argument("--snr", type=float, nargs="+", default=[25.0, 30.0, 35.0], help="SNRs in dB")
    q.add_argument("--noise", choices=["white", "realistic"], default="white")
    q.add_argument("--trials", type=int, default=32, help="trials per separation (>= 32 for the paper's metric)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    q.set_defaults(func=cmd_resolution)

    i = sub.add_parser("info", help="version, shipped calibration and model, methods and backbones")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)


