"""The ``spectro`` command line: thin wrappers over library calls.

Exit codes: 0 ok · 1 error (output exists, I/O) · 2 usage (bad arguments, unknown method or
option) · 3 data (bad calibration, recording or sweep file) · 4 device (port missing or busy,
device silent or failing) · 130 interrupted (Ctrl-C).
Diagnostics go to stderr as one line; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import traceback

from calibration.errors import CalibrationError, DataError, SpectroError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DATA, EXIT_DEVICE, EXIT_INTERRUPT = 0, 1, 2, 3, 4, 130
#: Four lines, one close pair; total power 1.4 keeps the emulated 16-bit ADC (full scale 2.0) off its rail.
DEFAULT_SOURCE = "lines:1530@0.4,1531.2@0.3,1565.5@0.3,1600@0.4"


class UsageError(SpectroError, ValueError):
    """Arguments that parse but do not make sense together."""


def _options(pairs: list[str]) -> dict:
    """``--option key=value`` pairs → dict; values are Python literals, else strings."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def _load_calibration(path: str | None):
    from calibration import calfile, reference

    return reference.load_reference() if path is None else calfile.load(path)


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
    from spectro.pipeline import reconstruct_file
    from spectro.progress import Progress

    cal = _load_calibration(args.calibration)
    bar: list[Progress] = []
    summary = reconstruct_file(
        args.input, args.out, cal, method=args.method, options=_options(args.option), overwrite=args.overwrite,
        on_start=lambda n: bar.append(Progress(n)), on_progress=lambda n: bar[0].update(n),
    )
    if bar:
        bar[0].close()
    print(f"{summary.input} → {summary.output}: {summary.sweeps} sweeps, method {summary.method}, "
          f"calibration {summary.calibration_id}, {summary.seconds:.2f} s ({summary.rate:.0f} sweeps/s)")
    return EXIT_OK


def _noise(args):
    from calibration.noise import REALISTIC, NoiseModel

    base = REALISTIC if args.noise == "realistic" else NoiseModel()
    return NoiseModel(**{**base.to_dict(), "white_snr_db": args.snr})


def cmd_simulate(args) -> int:
    from calibration import sources
    from calibration.physics import device_from_seed
    from spectro.pipeline import simulate_recording

    params = device_from_seed(args.device_seed)
    spectrum, lines = sources.parse_source(args.source, params.wavelengths_nm())
    simulate_recording(args.out, params, spectrum, count=args.count, noise=_noise(args), seed=args.seed, lines_nm=lines, overwrite=args.overwrite)
    print(f"wrote {args.out}: {args.count} sweeps of {args.source!r} at {args.snr:g} dB ({args.noise} noise), device seed {args.device_seed}")
    return EXIT_OK


def cmd_resolution(args) -> int:
    from calibration import calfile
    from calibration.physics import DeviceParams
    from spectro.metrics import two_line_resolution
    from spectro.reconstruct import Reconstructor

    cal = _load_calibration(args.calibration)
    raw = calfile.device_params(cal)
    if raw is None:
        raise UsageError("two-line resolution is simulated through the physics model, so it needs a simulated calibration (spectro calibrate --simulate)")
    params = DeviceParams.from_dict(raw)
    rec = Reconstructor(cal, args.method, **_options(args.option))
    rows = []
    for snr in args.snr:
        r = two_line_resolution(params, rec, snr, trials=args.trials, seed=args.seed, noise=_noise(argparse.Namespace(noise=args.noise, snr=snr)))
        rows.append({"snr_db": snr, "resolution_nm": r.resolution_nm, "trials": r.trials,
                     "success_rate": dict(zip(map(float, r.separations_nm), map(float, r.success_rate)))})
        if not args.json:
            print(f"{args.method}: {r.summary()}")
    if args.json:
        print(json.dumps({"method": args.method, "calibration_id": cal.calibration_id, "noise": args.noise, "results": rows}, indent=2))
    return EXIT_OK


def cmd_emulate(args) -> int:
    import signal
    import threading

    from calibration import sources
    from calibration.physics import device_from_seed
    from firmware_bridge.emulator import EmulatedDevice, EmulatorConfig
    from firmware_bridge.serve import Faults, PtyTransport, SerialTransport, TcpTransport, serve

    params = device_from_seed(args.device_seed)
    spectrum, _ = sources.parse_source(args.source, params.wavelengths_nm())
    device = EmulatedDevice(params, spectrum, _noise(args), EmulatorConfig(seed=args.seed))
    if args.rate <= 0:
        raise UsageError(f"--rate must be > 0 sweeps/s, got {args.rate:g}")
    faults = Faults(
        bit_error_rate=args.bit_error_rate, drop_rate=args.drop_rate, stall_after=args.stall_after, stall_seconds=args.stall_seconds,
        disconnect_after=args.disconnect_after, reconnect_delay=args.reconnect_delay,
    )
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"--tcp expects HOST:PORT, got {args.tcp!r}")
        transport = TcpTransport(host, int(port))
    elif args.port:
        transport = SerialTransport(args.port)
    else:
        transport = PtyTransport(link=args.link)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"emulated device {device.config.serial} (device seed {args.device_seed}, noise seed {args.seed}) on {transport.path}", flush=True)
    try:
        produced = serve(device, transport, rate_hz=args.rate, count=args.count, faults=faults, stop=stop)
    except KeyboardInterrupt:
        produced = device.sequence
    finally:
        transport.close()
    print(f"emulator stopped after {produced} sweeps", file=sys.stderr)
    return EXIT_OK


def cmd_train(args) -> int:
    try:  # training needs the [train] extra; the runtime never imports it
        from training.dataset import DatasetConfig
        from training.models import CAEConfig
        from training.train import TrainConfig, train
    except ImportError as exc:
        raise UsageError(f"spectro train needs PyTorch: pip install torch==2.13.0 -e '.[train]' ({exc})") from None
    from calibration.noise import REALISTIC

    cal = _load_calibration(args.calibration)
    data = DatasetConfig(per_k=args.per_k, snrs_db=tuple(args.snr), random_amplitudes=args.random_amplitudes, seed=args.seed)
    train(
        cal, args.out, model_config=CAEConfig(channels=args.channels, global_hidden=args.global_hidden, window_rank=args.window_rank),
        data_config=data, train_config=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, patience=args.patience),
        noise_model=REALISTIC if args.noise == "realistic" else None, overwrite=args.overwrite, threads=args.threads,
    )
    return EXIT_OK


def cmd_evaluate(args) -> int:
    try:
        from training import checkpoint, evaluate
    except ImportError as exc:
        raise UsageError(f"spectro evaluate needs PyTorch and PyWavelets: pip install torch==2.13.0 -e '.[train]' ({exc})") from None
    from calibration.fileio import atomic_output, check_output

    for path in (args.out, args.png):
        check_output(path, args.overwrite)
    cal = _load_calibration(args.calibration)
    model, meta = checkpoint.load(args.model, calibration_id=cal.calibration_id, force=args.force)
    from calibration.noise import REALISTIC

    noise = REALISTIC if args.noise == "realistic" else None
    baselines = evaluate.tuned_baselines(cal, noise=noise)
    denoisers = {name: d for name, (d, _, _) in baselines.items()}
    denoisers["CAE"] = evaluate.torch_denoiser(model)
    notes = {name: ", ".join(f"{k}={v}" for k, v in p.items()) for name, (_, p, _) in baselines.items()}
    results = evaluate.evaluate(cal, denoisers, trials=args.trials, noise=noise, log=lambda s: print(s, file=sys.stderr))
    text = (f"# Denoiser evaluation\n\ncalibration {cal.calibration_id} ({cal.device}); model {args.model} "
            f"(trained {meta.get('created', '?')}, SNRs {meta.get('training_snrs_db')}, {'realistic' if meta.get('noise_model') else 'white'} noise); "
            f"evaluated with {args.noise} noise; {args.trials} trials per separation\n\n"
            + evaluate.markdown(results, notes))
    with atomic_output(args.out, args.overwrite) as tmp:
        tmp.write_text(text)
    evaluate.figure(results, args.png)
    print(text)
    return EXIT_OK


def cmd_demo(args) -> int:
    from spectro.demo import run_demo

    run_demo(args.out_dir, snr=args.snr, sweeps=args.sweeps, overwrite=args.overwrite, seed=args.seed)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from spectro import __version__
    from spectro.reconstruct import DEFAULT_METHOD, METHODS

    p = argparse.ArgumentParser(prog="spectro", description="MEMS computational spectrometer toolkit.")
    p.add_argument("--version", action="version", version=f"spectro {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common_out(sp):
        sp.add_argument("--out", required=True, help="output file (never overwritten unless --overwrite)")
        sp.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    def method_args(sp):
        sp.add_argument("--method", default=DEFAULT_METHOD, choices=list(METHODS), help=f"reconstruction method (default {DEFAULT_METHOD})")
        sp.add_argument("--option", action="append", metavar="KEY=VALUE", help="method option, e.g. tau=0.3 (repeatable)")

    c = sub.add_parser("calibrate", help="build a calibration file from a sweep, or simulate the reference device")
    c.add_argument("sweep", nargs="?", help="calibration sweep file (HDF5, see docs/formats.md)")
    c.add_argument("--simulate", action="store_true", help="write the simulated device instead of reading a sweep")
    c.add_argument("--seed", type=int, default=0, help="simulated device: 0 = the reference device, others = other chips of the same design")
    common_out(c)
    c.set_defaults(func=cmd_calibrate)

    r = sub.add_parser("reconstruct", help="reconstruct the spectra of a recording")
    r.add_argument("input", help="recording (HDF5 with /entry/sweeps/interferogram)")
    r.add_argument("--calibration", help="calibration file (default: the shipped reference device)")
    method_args(r)
    common_out(r)
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

    e = sub.add_parser("emulate", help="run the emulated spectrometer on a pseudo-terminal, a serial port or TCP")
    where = e.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="create a pseudo-terminal and print its path (the default)")
    where.add_argument("--port", metavar="PATH", help="serve an existing serial device path (e.g. one end of a socat pair)")
    where.add_argument("--tcp", metavar="HOST:PORT", help="serve a TCP socket (clients use socket://HOST:PORT)")
    e.add_argument("--link", metavar="PATH", help="with --pty: keep a stable symlink to the current pty (survives --disconnect-after)")
    e.add_argument("--source", default=DEFAULT_SOURCE, help="lines:NM[@AMP],... | lamp | led:CENTER,FWHM | absorption | file:PATH")
    e.add_argument("--snr", type=float, default=35.0, help="white-noise SNR in dB")
    e.add_argument("--noise", choices=["white", "realistic"], default="white")
    e.add_argument("--seed", type=int, default=0, help="noise seed: sweep n is the same for a given seed, whatever the link does")
    e.add_argument("--device-seed", type=int, default=0, help="simulated device (0 = reference)")
    e.add_argument("--count", type=int, help="stop after N sweeps")
    e.add_argument("--rate", type=float, default=100.0, help="sweeps per second while streaming")
    e.add_argument("--bit-error-rate", type=float, default=0.0, help="flip each transmitted bit with this probability")
    e.add_argument("--drop-rate", type=float, default=0.0, help="drop each transmitted byte with this probability")
    e.add_argument("--stall-after", type=int, help="go silent after N sweeps ...")
    e.add_argument("--stall-seconds", type=float, default=3.0, help="... for this long")
    e.add_argument("--disconnect-after", type=int, help="unplug the port after N sweeps ...")
    e.add_argument("--reconnect-delay", type=float, default=1.0, help="... and plug it back after this long")
    e.set_defaults(func=cmd_emulate)

    t = sub.add_parser("train", help="train the noise-predicting CAE for a calibration (needs the [train] extra)")
    t.add_argument("--calibration", help="calibration file (default: the shipped reference device)")
    t.add_argument("--out", required=True, help="checkpoint folder to create")
    t.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint folder")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--per-k", type=int, default=10_000, help="samples per line count (the paper: 10,000 × {2, 3, 4})")
    t.add_argument("--snr", type=float, nargs="+", default=[30.0, 36.0], help="training SNRs in dB (the paper: 30 36)")
    t.add_argument("--noise", choices=["white", "realistic"], default="white", help="add the physics model's structured noise")
    t.add_argument("--random-amplitudes", action="store_true", help="line amplitudes U(0.5, 1) instead of 1")
    t.add_argument("--channels", type=int, default=16)
    t.add_argument("--global-hidden", type=int, default=128)
    t.add_argument("--window-rank", type=int, default=7, help="rank of the calibration-window projection fed to the network (0: plain CAE)")
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--patience", type=int, default=6)
    t.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    t.set_defaults(func=cmd_train)

    v = sub.add_parser("evaluate", help="compare the CAE with classical denoisers and the resolution bound (needs the [train] extra)")
    v.add_argument("--calibration", help="simulated calibration file (default: the shipped reference device)")
    v.add_argument("--model", required=True, help="checkpoint folder from spectro train")
    v.add_argument("--out", default="evaluation.md", help="Markdown report")
    v.add_argument("--png", default="evaluation.png", help="figure")
    v.add_argument("--trials", type=int, default=32, help="two-line trials per separation")
    v.add_argument("--noise", choices=["white", "realistic"], default="white", help="add the physics model's structured noise under the white noise")
    v.add_argument("--force", action="store_true", help="use a model trained for another calibration")
    v.add_argument("--overwrite", action="store_true")
    v.set_defaults(func=cmd_evaluate)

    d = sub.add_parser("demo", help="simulate, reconstruct, summarise and plot: the end-to-end demo")
    d.add_argument("--out-dir", default="spectro-demo", help="folder for the demo's files")
    d.add_argument("--snr", type=float, default=30.0)
    d.add_argument("--sweeps", type=int, default=200)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--overwrite", action="store_true", help="replace the demo's earlier output files")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on bad usage, with argparse's message
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("spectro: interrupted", file=sys.stderr)
        return EXIT_INTERRUPT
    except Exception as exc:  # one line per error; traceback only with --debug
        if args.debug:
            traceback.print_exc()
        code = _exit_code(exc)
        print(f"spectro {args.command}: error: {exc}", file=sys.stderr)
        return code


def _exit_code(exc: BaseException) -> int:
    from firmware_bridge.errors import DeviceError

    if isinstance(exc, DeviceError):
        return EXIT_DEVICE
    if isinstance(exc, (CalibrationError, DataError)):
        return EXIT_DATA
    if isinstance(exc, (UsageError, ValueError, TypeError)):
        return EXIT_USAGE
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
