"""emulate, acquire, demo: the commands that talk to (or stand in for) the instrument."""

from __future__ import annotations

import sys

from spectro.commands import (
    DEFAULT_SOURCE,
    EXIT_OK,
    UsageError,
    add_model_args,
    guard_threshold,
    load_calibration,
    load_denoiser,
    load_detector,
    noise_model,
)


def cmd_emulate(args) -> int:
    import signal
    import threading

    from calibration import sources
    from calibration.physics import device_from_seed
    from firmware_bridge.emulator import EmulatedDevice, EmulatorConfig
    from firmware_bridge.serve import Faults, PtyTransport, SerialTransport, TcpTransport, serve

    params = device_from_seed(args.device_seed)
    spectrum, _ = sources.parse_source(args.source, params.wavelengths_nm())
    device = EmulatedDevice(params, spectrum, noise_model(args.noise, args.snr), EmulatorConfig(seed=args.seed))
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


def cmd_acquire(args) -> int:
    import signal
    import threading

    from calibration.fileio import check_output
    from firmware_bridge.client import DeviceClient
    from spectro.acquire import acquire
    from spectro.liveplot import LivePlot, has_display

    if args.count is not None and args.count < 1:
        raise UsageError(f"--count must be >= 1, got {args.count}")
    if args.duration is not None and args.duration <= 0:
        raise UsageError(f"--duration must be > 0 s, got {args.duration:g}")
    check_output(args.out, args.overwrite)  # before touching the device
    if args.snapshot:
        check_output(args.snapshot, args.overwrite)
    cal = load_calibration(args.calibration)
    denoiser = load_denoiser(args, cal, mode="sweep")
    detector = load_detector(args, cal, mode="sweep")
    interactive = args.plot and has_display()
    if args.plot and not interactive:
        print("spectro acquire: no display for --plot; showing the status line instead", file=sys.stderr)
    plot = LivePlot(cal, interactive=interactive) if (interactive or args.snapshot) else None
    tty = sys.stderr.isatty()
    last = {"status": 0.0, "snap": 0.0}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_update(state):
        import time

        now = time.monotonic()
        if plot is not None:
            plot.update(state)
            if args.snapshot and now - last["snap"] >= args.snapshot_every:
                plot.snapshot(args.snapshot)
                last["snap"] = now
        if tty and now - last["status"] >= 0.25:
            sys.stderr.write("\r" + state.status_line()[:160] + "\033[K")
            sys.stderr.flush()
            last["status"] = now

    client = DeviceClient(args.port, ready_timeout=args.ready_timeout, max_outage=args.max_outage)
    client.connect()
    try:
        summary = acquire(client, args.out, cal, denoiser=denoiser, guard_threshold=guard_threshold(args), count=args.count,
                          duration=args.duration, overwrite=args.overwrite, on_update=on_update, stop=stop, detector=detector)
    finally:
        client.close()
        if tty:
            sys.stderr.write("\n")
        if plot is not None:
            if args.snapshot:
                plot.snapshot(args.snapshot)
            plot.close()
    model = f"denoiser {denoiser.model_hash[:12]}" if denoiser else "no denoising"
    print(f"wrote {summary.path}: {summary.sweeps} sweeps in {summary.seconds:.1f} s from {client.identity.serial}, "
          f"lost {summary.lost}, link outages {summary.outages}, {model} ({summary.bypassed} passed through undenoised), "
          f"{summary.flagged} flagged as faulty" + ("" if detector else " (no fault detector)"))
    return EXIT_OK


def cmd_demo(args) -> int:
    from spectro.demo import run_demo

    run_demo(args.out_dir, snr=args.snr, sweeps=args.sweeps, overwrite=args.overwrite, seed=args.seed)
    return EXIT_OK


def register(sub) -> None:
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

    a = sub.add_parser("acquire", help="record live from the spectrometer: denoise, reconstruct, write a growing HDF5 file")
    a.add_argument("--port", required=True, metavar="URL", help="serial port or pyserial URL: /dev/ttyACM0, COM3, socket://HOST:PORT")
    a.add_argument("--out", required=True, help="recording to create (readable while it grows; never overwritten unless --overwrite)")
    a.add_argument("--overwrite", action="store_true", help="replace an existing recording (and snapshot)")
    how_long = a.add_mutually_exclusive_group()
    how_long.add_argument("--count", type=int, help="stop after N sweeps")
    how_long.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    a.add_argument("--calibration", help="calibration file (default: the shipped reference device)")
    add_model_args(a)
    a.add_argument("--plot", action="store_true", help="live window: raw vs denoised interferogram, spectrum, peaks")
    a.add_argument("--snapshot", metavar="PNG", help="also save the live view as a PNG (refreshed every --snapshot-every s)")
    a.add_argument("--snapshot-every", type=float, default=5.0, metavar="S")
    a.add_argument("--ready-timeout", type=float, default=5.0, metavar="S", help="wait this long for the device to identify")
    a.add_argument("--max-outage", type=float, default=30.0, metavar="S", help="give up when the link stays down this long")
    a.set_defaults(func=cmd_acquire)

    d = sub.add_parser("demo", help="emulated device over a pseudo-terminal → acquire → denoise → reconstruct → demo.h5 + demo.png")
    d.add_argument("--out-dir", default="spectro-demo", help="folder for the demo's files")
    d.add_argument("--snr", type=float, default=30.0)
    d.add_argument("--sweeps", type=int, default=300, help="sweeps to acquire from the emulated device")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--overwrite", action="store_true", help="replace the demo's earlier output files")
    d.set_defaults(func=cmd_demo)
