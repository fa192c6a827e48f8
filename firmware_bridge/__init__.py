"""firmware_bridge — the serial link to the spectrometer (docs/protocol.md).

* :mod:`firmware_bridge.protocol` — the wire protocol as pure encode/decode functions;
* :mod:`firmware_bridge.client` — :class:`~firmware_bridge.client.DeviceClient` on any pyserial URL;
* :mod:`firmware_bridge.emulator` and :mod:`firmware_bridge.serve` — an emulated device
  speaking the same protocol over a pty, TCP or a serial path, with fault injection;
* :mod:`firmware_bridge.errors` — ``DeviceError`` and its subclasses.
"""
