"""The wire protocol (docs/protocol.md): pure encode/decode functions, no I/O.

A frame on the wire is ``COBS(body) + b"\\x00"``; the body is

    version u8 | type u8 | request_id u16 | length u16 | payload (length bytes) | crc32 u32

little-endian, CRC-32/ISO-HDLC (zlib.crc32) over everything before it. Decoding any input —
corrupted, truncated, random — raises :class:`ProtocolError` or returns a message whose CRC
matched; nothing else.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from firmware_bridge.errors import ProtocolError

PROTOCOL_VERSION = 1
DELIMITER = b"\x00"
MAX_BODY = 2048  # bytes before COBS; longer frames are rejected (a sweep is 152)
HEADER = struct.Struct("<BBHH")  # version, type, request_id, length
CRC = struct.Struct("<I")


class MsgType:
    """Message type codes. Host → device below 0x80, device → host from 0x80."""

    IDENTIFY_REQ = 0x01
    CONFIGURE = 0x02
    START = 0x03
    STOP = 0x04
    HEARTBEAT = 0x05
    IDENTIFY = 0x81
    ACK = 0x82
    ERROR = 0x83
    HEARTBEAT_REPLY = 0x85
    SWEEP = 0x90


class Status:
    """Sweep status flags (bit mask)."""

    SATURATED = 0x0001  # a sample sits at the ADC rail
    ACTUATOR_FAULT = 0x0002
    OVER_TEMPERATURE = 0x0004
    AVERAGING_INCOMPLETE = 0x0008
    OVERRUN = 0x0010  # the device dropped sweeps because its transmit buffer was full


class ErrorCode:
    BAD_FRAME = 1
    UNKNOWN_TYPE = 2
    BAD_PAYLOAD = 3
    BUSY = 4
    OUT_OF_RANGE = 5
    ACTUATOR_FAULT = 6
    INTERNAL = 7


# ----------------------------------------------------------------------------- COBS + CRC
def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: the output has no zero byte (1 byte per 254 overhead)."""
    out = bytearray()
    for part in bytes(data).split(b"\x00"):
        while len(part) >= 254:
            out.append(255)
            out += part[:254]
            part = part[254:]
        out.append(len(part) + 1)
        out += part
    # The split adds one trailing group; a block of exactly 254 needs no implicit zero after.
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise ProtocolError("COBS: zero byte inside a frame")
        end = i + code
        if end > n:
            raise ProtocolError("COBS: block runs past the end of the frame")
        block = data[i + 1:end]
        if 0 in block:
            raise ProtocolError("COBS: zero byte inside a frame")
        out += block
        i = end
        if code < 255 and i < n:
            out.append(0)
    return bytes(out)


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC (IEEE 802.3): poly 0x04C11DB7 reflected, init and xorout 0xFFFFFFFF.
    Check value: crc32(b"123456789") == 0xCBF43926."""
    return zlib.crc32(data) & 0xFFFFFFFF


# ----------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class Identity:
    serial: str
    firmware: tuple[int, int, int]
    protocol: int
    adc_bits: int
    adc_full_scale: float  # signal units at the top ADC code
    settle_us: int
    averaging: int
    voltages_v: tuple[float, ...]

    @property
    def n_steps(self) -> int:
        return len(self.voltages_v)


@dataclass(frozen=True)
class Configure:
    settle_us: int
    averaging: int
    voltages_v: tuple[float, ...] = ()  # empty: keep the device's table


@dataclass(frozen=True)
class Start:
    count: int = 0  # sweeps to send, 0 = until STOP


@dataclass(frozen=True)
class Ack:
    acked_type: int


@dataclass(frozen=True)
class Error:
    code: int
    message: str


@dataclass(frozen=True)
class Heartbeat:
    uptime_ms: int = 0


@dataclass(frozen=True)
class Sweep:
    sequence: int  # u32, +1 per sweep the device produced
    timestamp_us: int  # device clock, µs
    status: int  # Status flags
    samples: tuple[int, ...] = field(repr=False)  # raw ADC codes


@dataclass(frozen=True)
class Frame:
    type: int
    request_id: int
    payload: bytes


_ID_HEAD = struct.Struct("<B3BB f I H H16s")  # protocol, fw major/minor/patch, adc_bits, full scale, settle, averaging, n, serial
_CONF_HEAD = struct.Struct("<I H H")
_SWEEP_HEAD = struct.Struct("<I Q H H")


def encode_frame(msg_type: int, payload: bytes = b"", request_id: int = 0) -> bytes:
    """Body + CRC, COBS-encoded, with the trailing delimiter: ready for the wire."""
    if len(payload) > MAX_BODY - HEADER.size - CRC.size:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the {MAX_BODY}-byte frame limit")
    body = HEADER.pack(PROTOCOL_VERSION, msg_type, request_id & 0xFFFF, len(payload)) + payload
    return cobs_encode(body + CRC.pack(crc32(body))) + DELIMITER


def decode_frame(wire: bytes) -> Frame:
    """One frame without its delimiter → :class:`Frame`. Raises :class:`ProtocolError` only."""
    if not wire:
        raise ProtocolError("empty frame")
    if len(wire) > MAX_BODY + MAX_BODY // 254 + 2:
        raise ProtocolError(f"frame of {len(wire)} bytes exceeds the limit")
    body = cobs_decode(wire)
    if len(body) < HEADER.size + CRC.size:
        raise ProtocolError(f"frame of {len(body)} bytes is shorter than header + CRC")
    (crc,) = CRC.unpack_from(body, len(body) - CRC.size)
    if crc32(body[: -CRC.size]) != crc:
        raise ProtocolError("CRC mismatch")
    version, msg_type, request_id, length = HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version}, expected {PROTOCOL_VERSION}")
    if length != len(body) - HEADER.size - CRC.size:
        raise ProtocolError(f"length field says {length} bytes, frame holds {len(body) - HEADER.size - CRC.size}")
    return Frame(msg_type, request_id, body[HEADER.size: -CRC.size])


def _f32s(values) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def encode_message(msg, request_id: int = 0) -> bytes:
    """A message dataclass → wire bytes."""
    if isinstance(msg, Sweep):
        n = len(msg.samples)
        payload = _SWEEP_HEAD.pack(msg.sequence & 0xFFFFFFFF, msg.timestamp_us, msg.status, n) + struct.pack(f"<{n}H", *msg.samples)
        return encode_frame(MsgType.SWEEP, payload, request_id)
    if isinstance(msg, Identity):
        serial = msg.serial.encode("ascii")[:16]
        payload = _ID_HEAD.pack(msg.protocol, *msg.firmware, msg.adc_bits, msg.adc_full_scale, msg.settle_us, msg.averaging, len(msg.voltages_v), serial)
        return encode_frame(MsgType.IDENTIFY, payload + _f32s(msg.voltages_v), request_id)
    if isinstance(msg, Configure):
        payload = _CONF_HEAD.pack(msg.settle_us, msg.averaging, len(msg.voltages_v)) + _f32s(msg.voltages_v)
        return encode_frame(MsgType.CONFIGURE, payload, request_id)
    if isinstance(msg, Start):
        return encode_frame(MsgType.START, struct.pack("<I", msg.count), request_id)
    if isinstance(msg, Ack):
        return encode_frame(MsgType.ACK, bytes([msg.acked_type]), request_id)
    if isinstance(msg, Error):
        return encode_frame(MsgType.ERROR, bytes([msg.code]) + msg.message.encode("ascii", "replace")[:64], request_id)
    if isinstance(msg, Heartbeat):
        return encode_frame(MsgType.HEARTBEAT_REPLY, struct.pack("<I", msg.uptime_ms), request_id)
    raise TypeError(f"cannot encode {type(msg).__name__}")


def _need(payload: bytes, size: int, what: str) -> None:
    if len(payload) != size:
        raise ProtocolError(f"{what} payload of {len(payload)} bytes, expected {size}")


def parse(frame: Frame):
    """A decoded :class:`Frame` → its message dataclass (requests without payload → the type
    code itself). Raises :class:`ProtocolError` only."""
    t, p = frame.type, frame.payload
    try:
        if t == MsgType.SWEEP:
            if len(p) < _SWEEP_HEAD.size:
                raise ProtocolError("SWEEP payload too short")
            seq, ts, status, n = _SWEEP_HEAD.unpack_from(p)
            _need(p, _SWEEP_HEAD.size + 2 * n, "SWEEP")
            return Sweep(seq, ts, status, struct.unpack_from(f"<{n}H", p, _SWEEP_HEAD.size))
        if t == MsgType.IDENTIFY:
            if len(p) < _ID_HEAD.size:
                raise ProtocolError("IDENTIFY payload too short")
            proto, fa, fb, fc, bits, fs, settle, avg, n, serial = _ID_HEAD.unpack_from(p)
            _need(p, _ID_HEAD.size + 4 * n, "IDENTIFY")
            volts = struct.unpack_from(f"<{n}f", p, _ID_HEAD.size)
            return Identity(serial.rstrip(b"\x00").decode("ascii", "replace"), (fa, fb, fc), proto, bits, fs, settle, avg, volts)
        if t == MsgType.CONFIGURE:
            if len(p) < _CONF_HEAD.size:
                raise ProtocolError("CONFIGURE payload too short")
            settle, avg, n = _CONF_HEAD.unpack_from(p)
            _need(p, _CONF_HEAD.size + 4 * n, "CONFIGURE")
            return Configure(settle, avg, struct.unpack_from(f"<{n}f", p, _CONF_HEAD.size))
        if t == MsgType.START:
            _need(p, 4, "START")
            return Start(struct.unpack("<I", p)[0])
        if t == MsgType.ACK:
            _need(p, 1, "ACK")
            return Ack(p[0])
        if t == MsgType.ERROR:
            if not p:
                raise ProtocolError("ERROR payload empty")
            return Error(p[0], p[1:].decode("ascii", "replace"))
        if t == MsgType.HEARTBEAT_REPLY:
            _need(p, 4, "HEARTBEAT_REPLY")
            return Heartbeat(struct.unpack("<I", p)[0])
        if t in (MsgType.IDENTIFY_REQ, MsgType.STOP, MsgType.HEARTBEAT):
            _need(p, 0, f"type 0x{t:02x}")
            return t
    except struct.error as exc:  # defensive: sizes are checked above
        raise ProtocolError(f"malformed payload: {exc}") from None
    raise ProtocolError(f"unknown message type 0x{t:02x}")


def decode_message(wire: bytes):
    """Wire bytes of one frame (without delimiter) → (request_id, message)."""
    frame = decode_frame(wire)
    return frame.request_id, parse(frame)


class FrameSplitter:
    """Incremental framing: feed bytes as they arrive, get complete frames back.

    Resynchronises on every 0x00: garbage before a delimiter becomes one bad frame for the
    decoder to reject; a run longer than any valid frame is discarded (and counted) without
    buffering it, so a noisy line cannot grow memory.
    """

    MAX_WIRE = MAX_BODY + MAX_BODY // 254 + 2

    def __init__(self):
        self._buf = bytearray()
        self.discarded = 0  # bytes thrown away in over-long runs

    def feed(self, data: bytes) -> Iterator[bytes]:
        start = 0
        while True:
            k = data.find(b"\x00", start)
            if k < 0:
                break
            chunk = data[start:k]
            if self._buf:
                self._buf += chunk
                chunk, self._buf = bytes(self._buf), bytearray()
            start = k + 1
            if len(chunk) > self.MAX_WIRE:
                self.discarded += len(chunk)
            elif chunk:
                yield bytes(chunk)
        self._buf += data[start:]
        if len(self._buf) > self.MAX_WIRE:  # no delimiter in sight: drop, keep waiting for one
            self.discarded += len(self._buf)
            self._buf = bytearray()
