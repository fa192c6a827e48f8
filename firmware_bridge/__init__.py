"""firmware_bridge — the serial link to the spectrometer: wire protocol (pure functions),
transport, device client and an emulated device.

Not built yet: see the firmware-bridge issue. The package exists so that the distribution
has its final shape and the torch-free import test covers it.
"""
