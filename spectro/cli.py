"""The ``spectro`` command line: thin wrappers over library calls (spectro/commands/).

Exit codes: 0 ok · 1 error (output exists, I/O) · 2 usage (bad arguments, unknown method or
option) · 3 data (bad calibration, recording, model or sweep file) · 4 device (port missing
or busy, device silent or failing) · 130 interrupted (Ctrl-C).
Diagnostics go to stderr as one line; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from calibration.errors import CalibrationError, DataError, ModelFormatError
from spectro.commands import EXIT_DATA, EXIT_DEVICE, EXIT_ERROR, EXIT_INTERRUPT, EXIT_USAGE, UsageError, data, device, ml


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

    data.register(sub, method_args, common_out)
    device.register(sub)
    ml.register(sub)
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
    if isinstance(exc, (CalibrationError, DataError, ModelFormatError)):
        return EXIT_DATA
    if isinstance(exc, (UsageError, ValueError, TypeError)):
        return EXIT_USAGE
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
