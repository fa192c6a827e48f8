"""The exception tree, re-exported for users: ``from spectro.errors import SpectroError``.

    SpectroError(Exception)
    ├── CalibrationError(ValueError)   unusable calibration matrix or file
    ├── DataError(ValueError)          malformed interferograms or recordings
    ├── ModelFormatError(ValueError)   malformed, tampered or mismatched model
    ├── OutputExistsError(FileExistsError)
    └── DeviceError(OSError)           (firmware_bridge.errors) port or device unusable

The classes live in :mod:`calibration.errors`, the lowest layer, so every package can
raise them without importing upwards.
"""

from calibration.errors import CalibrationError, DataError, ModelFormatError, OutputExistsError, SpectroError

__all__ = ["SpectroError", "CalibrationError", "DataError", "ModelFormatError", "OutputExistsError"]
