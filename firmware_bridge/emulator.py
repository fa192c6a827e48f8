"""An emulated spectrometer: firmware behaviour in Python speaking exactly the documented
protocol (docs/protocol.md), with sweeps from the physics model of :mod:`calibration`.

:class:`EmulatedDevice` is the firmware state machine (pure, no I/O): it answers requests
and produces sweep frames. Sweep number n is a pure function of (seed, n) — its noise comes
from ``default_rng([seed, n])`` — so whatever happens on the link, a faulty run can be
checked sweep by sweep against a clean one. :mod:`firmware_bridge.serve` moves its bytes
over a pseudo-terminal, a serial port or TCP, with fault injection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration import physics
from calibration.forward import apply_noise, simulate
from calibration.noise import NoiseModel
from calibration.physics import DeviceParams
from firmware_bridge import protocol as P
from firmware_bridge.errors import ProtocolError


@dataclass(frozen=True)
class EmulatorConfig:
    serial: str = "EMU-0001"
    firmware: tuple[int, int, int] = (1, 0, 0)
    adc_bits: int = 16
    adc_full_scale: float = 2.0  # signal units at code 2^bits − 1
    settle_us: int = 200
    averaging: int = 1
    seed: int = 0


class EmulatedDevice:
    """Firmware state machine of the emulated spectrometer.

    ``spectrum`` (W,) is the source on the device's wavelength grid; ``noise`` the physics
    model's noise terms (per sweep, deterministic in the sweep number).
    """

    def __init__(self, params: DeviceParams, spectrum: np.ndarray, noise: NoiseModel = NoiseModel(white_snr_db=35.0), config: EmulatorConfig = EmulatorConfig()):
        self.params, self.noise, self.config = params, noise, config
        self.spectrum = np.asarray(spectrum, np.float64)
        if self.spectrum.shape != (params.n_wavelengths,):
            raise ValueError(f"spectrum must have {params.n_wavelengths} values, got {self.spectrum.shape}")
        self.voltages = tuple(float(v) for v in params.voltages_v())
        self.settle_us, self.averaging = config.settle_us, config.averaging
        self.streaming = False
        self.remaining = 0  # sweeps left in a counted START (0: unlimited)
        self.sequence = 0  # number of the next sweep produced
        self._scale = (2**config.adc_bits - 1) / config.adc_full_scale
        self._analogue_noise = NoiseModel(**{**noise.to_dict(), "adc_bits": None})  # the ADC is ours
        # For a static source without response perturbations the clean sweep is one product.
        self._clean = None if noise.perturbs_response else (self.spectrum @ physics.ideal_matrix(params) + params.dark_offset)

    # -- identity and samples -------------------------------------------------------------
    def identity(self) -> P.Identity:
        c = self.config
        return P.Identity(c.serial, c.firmware, P.PROTOCOL_VERSION, c.adc_bits, c.adc_full_scale, self.settle_us, self.averaging, self.voltages)

    def signal(self, n: int) -> np.ndarray:
        """The analogue detector signal of sweep n (V,), before the ADC; deterministic in (seed, n)."""
        rng = np.random.default_rng([self.config.seed, n])
        if self._clean is not None:
            return apply_noise(self._clean[None, :], self._analogue_noise, rng)[0]
        _, noisy = simulate(self.params, self.spectrum[None, :], self._analogue_noise, rng, sweep_index=np.array([n]))
        return noisy[0]

    def sweep(self, n: int, timestamp_us: int = 0) -> P.Sweep:
        """Sweep number n as the device sends it: ADC codes and status flags."""
        top = 2**self.config.adc_bits - 1
        codes = np.clip(np.round(self.signal(n) * self._scale), 0, top).astype(np.int64)
        status = P.Status.SATURATED if np.any((codes == 0) | (codes == top)) else 0
        return P.Sweep(n & 0xFFFFFFFF, timestamp_us, status, tuple(int(c) for c in codes))

    def next_sweep_frame(self, timestamp_us: int) -> bytes | None:
        """The next sweep's wire bytes while streaming, else None."""
        if not self.streaming:
            return None
        frame = P.encode_message(self.sweep(self.sequence, timestamp_us))
        self.sequence += 1
        if self.remaining:
            self.remaining -= 1
            if self.remaining == 0:
                self.streaming = False
        return frame

    # -- requests ---------------------------------------------------------------------------
    def handle(self, wire: bytes, uptime_ms: int = 0) -> list[bytes]:
        """One received frame (without delimiter) → the frames to send back."""
        try:
            frame = P.decode_frame(wire)
        except ProtocolError as exc:
            return [P.encode_message(P.Error(P.ErrorCode.BAD_FRAME, str(exc)))]
        rid = frame.request_id
        try:
            msg = P.parse(frame)
        except ProtocolError as exc:
            code = P.ErrorCode.UNKNOWN_TYPE if "unknown message type" in str(exc) else P.ErrorCode.BAD_PAYLOAD
            return [P.encode_message(P.Error(code, str(exc)), rid)]
        if msg == P.MsgType.IDENTIFY_REQ:
            return [P.encode_message(self.identity(), rid)]
        if msg == P.MsgType.HEARTBEAT:
            return [P.encode_message(P.Heartbeat(uptime_ms & 0xFFFFFFFF), rid)]
        if msg == P.MsgType.STOP:
            self.streaming = False
            return [P.encode_message(P.Ack(P.MsgType.STOP), rid)]
        if isinstance(msg, P.Start):
            self.streaming, self.remaining = True, msg.count
            return [P.encode_message(P.Ack(P.MsgType.START), rid)]
        if isinstance(msg, P.Configure):
            if self.streaming:
                return [P.encode_message(P.Error(P.ErrorCode.BUSY, "stop streaming before configuring"), rid)]
            if msg.voltages_v:
                if len(msg.voltages_v) != len(self.voltages):
                    return [P.encode_message(P.Error(P.ErrorCode.BAD_PAYLOAD, f"this device steps {len(self.voltages)} voltages"), rid)]
                if min(msg.voltages_v) < 0 or max(msg.voltages_v) > self.params.voltage_max_v * 1.1:
                    return [P.encode_message(P.Error(P.ErrorCode.OUT_OF_RANGE, f"voltages must lie in 0–{self.params.voltage_max_v * 1.1:g} V"), rid)]
                self.voltages = tuple(msg.voltages_v)
            self.settle_us, self.averaging = msg.settle_us, max(1, msg.averaging)
            return [P.encode_message(P.Ack(P.MsgType.CONFIGURE), rid)]
        return [P.encode_message(P.Error(P.ErrorCode.UNKNOWN_TYPE, f"0x{frame.type:02x} is not a request"), rid)]
