"""Errors of the serial link, rooted in the project's tree (see :mod:`spectro.errors`).

    SpectroError
    └── DeviceError(OSError)           the device or port is unusable (not found, busy, gone)
        ├── ProtocolError             bytes that are not a valid frame (CRC, framing, layout)
        ├── DeviceTimeout(TimeoutError)  no answer in time
        └── DeviceReportedError       the device answered with an ERROR frame (keeps its code)
"""

from __future__ import annotations

from calibration.errors import SpectroError


class DeviceError(SpectroError, OSError):
    """The device or its port is unusable."""


class ProtocolError(DeviceError):
    """Bytes that do not form a valid frame. The only exception :mod:`firmware_bridge.protocol`
    raises while decoding, whatever the input."""


class DeviceTimeout(DeviceError, TimeoutError):
    """The device did not answer in time."""


class DeviceReportedError(DeviceError):
    """The device sent an ERROR frame; ``code`` is its error code (docs/protocol.md)."""

    def __init__(self, code: int, message: str):
        super().__init__(f"device error {code}: {message}")
        self.code = code
