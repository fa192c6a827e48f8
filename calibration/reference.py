"""The reference device and its calibration file, shipped inside the package.

``calibration/data/reference.h5`` is what ``spectro calibrate --simulate --seed 0`` writes;
regenerate it with ``python -m calibration.reference`` (a test checks they agree).
"""

from __future__ import annotations

from pathlib import Path

from calibration import calfile
from calibration.matrix import Calibration, simulated_calibration
from calibration.physics import REFERENCE_SEED, DeviceParams, device_from_seed

REFERENCE_PATH = Path(__file__).with_name("data") / "reference.h5"


def device_name(seed: int) -> str:
    return "reference" if seed == REFERENCE_SEED else f"simulated-seed-{seed}"


def simulated(seed: int = REFERENCE_SEED, created: str = "") -> Calibration:
    """The ideal calibration of the simulated device with this seed (0 = the reference)."""
    return simulated_calibration(device_from_seed(seed), device_name(seed), created)


def load_reference() -> Calibration:
    return calfile.load(REFERENCE_PATH)


def reference_params() -> DeviceParams:
    return device_from_seed(REFERENCE_SEED)


if __name__ == "__main__":  # regenerate the shipped file
    calfile.save(simulated(REFERENCE_SEED, "2026-12-03T00:00:00+00:00"), REFERENCE_PATH, overwrite=True)
    print(f"wrote {REFERENCE_PATH} ({load_reference().calibration_id})")
