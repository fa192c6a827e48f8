"""Calibration: the physics model of the MEMS interferometer, the calibration matrix P and
the paper's padded Q, calibration sweeps and the calibration file.

Torch-free by design: devices and bench PCs import this package.
"""

from calibration.errors import CalibrationError, DataError, OutputExistsError, SpectroError
from calibration.matrix import Calibration, padded_q, simulated_calibration
from calibration.noise import REALISTIC, NoiseModel, add_white_noise, snr_db
from calibration.physics import REFERENCE_SEED, DeviceParams, device_from_seed

__all__ = [
    "Calibration", "CalibrationError", "DataError", "DeviceParams", "NoiseModel", "OutputExistsError",
    "REALISTIC", "REFERENCE_SEED", "SpectroError", "add_white_noise", "device_from_seed", "padded_q",
    "simulated_calibration", "snr_db",
]
