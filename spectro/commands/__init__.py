"""The ``spectro`` sub-commands, grouped by user: data (calibrate, reconstruct, simulate,
resolution, info), device (emulate, acquire, demo) and ml (train, evaluate, export). Each
module registers its parsers; this module holds what they share.
"""

from __future__ import annotations

import ast
import sys

from calibration.errors import SpectroError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DATA, EXIT_DEVICE, EXIT_INTERRUPT = 0, 1, 2, 3, 4, 130
#: Four lines, one close pair; total power 1.4 keeps the emulated 16-bit ADC (full scale 2.0) off its rail.
DEFAULT_SOURCE = "lines:1530@0.4,1531.2@0.3,1565.5@0.3,1600@0.4"


class UsageError(SpectroError, ValueError):
    """Arguments that parse but do not make sense together."""


def options(pairs: list[str] | None) -> dict:
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


def load_calibration(path: str | None):
    from calibration import calfile, reference

    return reference.load_reference() if path is None else calfile.load(path)


def noise_model(kind: str, snr: float):
    from calibration.noise import REALISTIC, NoiseModel

    base = REALISTIC if kind == "realistic" else NoiseModel()
    return NoiseModel(**{**base.to_dict(), "white_snr_db": snr})


def add_model_args(sp) -> None:
    """--model / --no-denoise / --force / --guard for commands that denoise."""
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--model", metavar="MODEL.onnx", help="denoiser exported by spectro export (default: the shipped model when it was made for the calibration in use)")
    g.add_argument("--no-denoise", action="store_true", help="reconstruct the raw interferograms")
    sp.add_argument("--force", action="store_true", help="use a model trained for another calibration")
    d = sp.add_mutually_exclusive_group()
    d.add_argument("--detector", metavar="DETECTOR.onnx", help="faulty-sweep detector (default: the shipped one when it was made for the calibration in use)")
    d.add_argument("--no-detect", action="store_true", help="do not score sweeps for faults")
    sp.add_argument("--guard", type=float, default=None, metavar="RATIO",
                    help="noise-guard threshold: sweeps whose predicted noise exceeds RATIO × the estimated noise floor, or whose estimated SNR "
                         "exceeds 33 dB, stay undenoised (default 3; 0 = no guard at all)")


def load_denoiser(args, cal, mode: str = "batch"):
    """The denoiser the arguments ask for, or None. Default: the shipped model if it was
    trained for ``cal``; for another calibration, no denoising (said on stderr)."""
    from spectro.denoiser import DEFAULT_MODEL_PATH, Denoiser

    if args.no_denoise:
        return None
    if args.model:
        return Denoiser(args.model, calibration_id=cal.calibration_id, force=args.force, mode=mode)
    if not DEFAULT_MODEL_PATH.is_file():
        print("spectro: no shipped denoiser in this installation; reconstructing raw interferograms", file=sys.stderr)
        return None
    den = Denoiser(DEFAULT_MODEL_PATH, mode=mode)
    if den.calibration_id != cal.calibration_id:
        print(f"spectro: the shipped denoiser is for calibration {den.calibration_id}, not {cal.calibration_id}; "
              "reconstructing raw interferograms (train and export one for this device, then pass --model)", file=sys.stderr)
        return None
    return den


def load_detector(args, cal, mode: str = "batch"):
    """The fault detector the arguments ask for, or None (default: the shipped one if it was
    made for ``cal``; otherwise none, silently — detection is an extra)."""
    from spectro.anomaly import DEFAULT_DETECTOR_PATH, FaultDetector

    if args.no_detect:
        return None
    if args.detector:
        return FaultDetector(args.detector, calibration_id=cal.calibration_id, force=args.force, mode=mode)
    if not DEFAULT_DETECTOR_PATH.is_file():
        return None
    det = FaultDetector(DEFAULT_DETECTOR_PATH, mode=mode)
    return det if det.calibration_id == cal.calibration_id else None


def guard_threshold(args):
    from spectro.guard import DEFAULT_THRESHOLD

    if args.guard is None:
        return DEFAULT_THRESHOLD
    if args.guard < 0:
        raise UsageError(f"--guard must be >= 0, got {args.guard:g}")
    return args.guard or None
