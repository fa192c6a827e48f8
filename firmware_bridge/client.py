"""The device client: opens any pyserial URL, identifies the device, streams sweeps.

It survives what serial links do in a lab: short reads (always), corrupted bytes (frames with
a bad CRC are dropped and counted; framing resynchronises at the next 0x00), lost sweeps
(sequence gaps are counted, never hidden), a device that stalls (noticed after
``stall_timeout``; the client nudges it, then reconnects), and a port that disappears
(reconnect with backoff, re-identify, resume streaming, record the outage). No call blocks
forever: every wait has a deadline.
"""

from __future__ import annotations

import collections
import datetime as _dt
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import serial

from firmware_bridge import protocol as P
from firmware_bridge.errors import DeviceError, DeviceReportedError, DeviceTimeout, ProtocolError

READ_TIMEOUT = 0.02  # s: one port read; short so that deadlines are kept


@dataclass
class LinkStats:
    """What happened on the link. ``lost`` counts sweeps missing from the sequence."""

    sweeps: int = 0
    lost: int = 0
    bad_frames: int = 0
    discarded_bytes: int = 0
    stalls: int = 0
    reconnects: int = 0
    device_errors: int = 0
    outages: list[tuple[str, float]] = field(default_factory=list)  # (start, ISO 8601; seconds)


@dataclass(frozen=True)
class SweepRecord:
    """One sweep as received: raw ADC codes and the signal they stand for."""

    sequence: int
    device_time_us: int
    host_time: float  # time.time() at receipt
    status: int
    codes: np.ndarray  # (V,) uint16, as sent by the device
    signal: np.ndarray  # (V,) float32, codes × adc_full_scale / (2^bits − 1)


def open_serial(url: str, *, baudrate: int = 921600) -> serial.SerialBase:
    """Open any pyserial URL (path, COM3, socket://, rfc2217://, loop://, spy://) with short
    read timeouts and, on POSIX, exclusive access."""
    kwargs = dict(baudrate=baudrate, timeout=READ_TIMEOUT, write_timeout=1.0)
    try:
        try:
            return serial.serial_for_url(url, exclusive=sys.platform != "win32", **kwargs)
        except (TypeError, ValueError):  # URL handlers that do not take 'exclusive'
            return serial.serial_for_url(url, **kwargs)
    except serial.SerialException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise DeviceError(f"{url} is in use by another program (could not get exclusive access)") from exc
        raise DeviceError(f"cannot open {url}: {text}") from exc


class DeviceClient:
    """A connection to one spectrometer.

    >>> with DeviceClient("/dev/ttyACM0") as dev:
    ...     print(dev.identity.serial)
    ...     for sweep in dev.sweeps(count=100):
    ...         ...
    """

    def __init__(
        self,
        url: str,
        *,
        ready_timeout: float = 5.0,
        request_timeout: float = 1.0,
        stall_timeout: float = 1.0,
        max_outage: float = 30.0,
        backoff: tuple[float, float] = (0.05, 0.5),
        opener: Callable[[str], serial.SerialBase] = open_serial,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.url = url
        self.ready_timeout, self.request_timeout = ready_timeout, request_timeout
        self.stall_timeout, self.max_outage, self.backoff = stall_timeout, max_outage, backoff
        self._opener, self._clock = opener, clock
        self.port: serial.SerialBase | None = None
        self.identity: P.Identity | None = None
        self.stats = LinkStats()
        self._splitter = P.FrameSplitter()
        self._pending: collections.deque = collections.deque()  # sweeps read while waiting for a reply
        self._rid = 0
        self._last_seq: int | None = None

    # -- connection -------------------------------------------------------------------------
    def connect(self) -> P.Identity:
        """Open the port and wait for the device to identify itself (boards that reset when
        the port opens take seconds: IDENTIFY is re-sent until ``ready_timeout``)."""
        self.port = self._opener(self.url)
        self._splitter = P.FrameSplitter()
        deadline = self._clock() + self.ready_timeout
        while True:
            try:
                self.identity = self._identify(min(0.25, self.ready_timeout))
                return self.identity
            except DeviceTimeout:
                if self._clock() >= deadline:
                    self.close()
                    raise DeviceTimeout(f"{self.url}: no answer to IDENTIFY within {self.ready_timeout:g} s; is a spectrometer connected?") from None

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except Exception:  # noqa: BLE001 - closing a dead port must not raise
                pass
        self.port = None

    def __enter__(self) -> DeviceClient:
        if self.port is None:
            self.connect()
        return self

    def __exit__(self, *exc) -> None:
        if self.port is not None:
            try:
                self.stop()
            except (DeviceError, OSError, serial.SerialException):
                pass
        self.close()

    # -- requests ---------------------------------------------------------------------------
    def configure(self, *, settle_us: int, averaging: int = 1, voltages_v=()) -> None:
        self._expect_ack(P.encode_message(P.Configure(settle_us, averaging, tuple(voltages_v)), self._next_rid()))
        self.identity = self._identify(self.request_timeout)

    def _identify(self, timeout: float) -> P.Identity:
        reply = self._request(P.encode_frame(P.MsgType.IDENTIFY_REQ, request_id=self._next_rid()), timeout)
        if not isinstance(reply, P.Identity):
            raise DeviceError(f"{self.url}: expected IDENTIFY, got {type(reply).__name__}")
        return reply

    def start(self, count: int = 0) -> None:
        self._expect_ack(P.encode_message(P.Start(count), self._next_rid()))

    def stop(self) -> None:
        self._expect_ack(P.encode_frame(P.MsgType.STOP, request_id=self._next_rid()))

    def heartbeat(self) -> int:
        reply = self._request(P.encode_frame(P.MsgType.HEARTBEAT, request_id=self._next_rid()), self.request_timeout)
        return reply.uptime_ms

    def _next_rid(self) -> int:
        self._rid = (self._rid % 0xFFFF) + 1
        return self._rid

    def _expect_ack(self, wire: bytes) -> None:
        reply = self._request(wire, self.request_timeout)
        if not isinstance(reply, P.Ack):
            raise DeviceError(f"expected ACK, got {type(reply).__name__}")

    def _request(self, wire: bytes, timeout: float):
        """Send one request and wait for the reply with its request id; sweeps that arrive
        meanwhile are kept for the iterator. Raises DeviceTimeout, DeviceReportedError."""
        rid = P.decode_frame(wire[:-1]).request_id
        self._write(wire)
        deadline = self._clock() + timeout
        while self._clock() < deadline:
            for reply_rid, msg in self._poll():
                if isinstance(msg, P.Sweep):
                    self._pending.append(msg)
                elif reply_rid == rid:
                    if isinstance(msg, P.Error):
                        raise DeviceReportedError(msg.code, msg.message)
                    return msg
                elif isinstance(msg, P.Error):
                    self.stats.device_errors += 1
        raise DeviceTimeout(f"{self.url}: no reply within {timeout:g} s")

    # -- I/O ----------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.port is None:
            raise DeviceError(f"{self.url} is not open")
        self.port.write(data)

    def _poll(self) -> list:
        """Read what is there (at most READ_TIMEOUT of waiting) → [(request_id, message)]."""
        if self.port is None:
            raise DeviceError(f"{self.url} is not open")
        data = self.port.read(max(1, self.port.in_waiting))  # short reads are normal
        out = []
        before = self._splitter.discarded
        for wire in self._splitter.feed(data):
            try:
                out.append(P.decode_message(wire))
            except ProtocolError:
                self.stats.bad_frames += 1
        self.stats.discarded_bytes += self._splitter.discarded - before
        return out

    # -- streaming ----------------------------------------------------------------------------
    def _record(self, msg: P.Sweep) -> SweepRecord | None:
        """Sequence bookkeeping; None for a duplicate or stale sweep."""
        if self._last_seq is not None:
            gap = (msg.sequence - self._last_seq - 1) % 2**32
            if gap >= 2**31:  # a duplicate or an old sweep: not new data
                return None
            self.stats.lost += gap
        self._last_seq = msg.sequence
        self.stats.sweeps += 1
        ident = self.identity
        codes = np.asarray(msg.samples, dtype=np.uint16)
        scale = ident.adc_full_scale / (2**ident.adc_bits - 1) if ident else 1.0
        return SweepRecord(msg.sequence, msg.timestamp_us, time.time(), msg.status, codes, (codes * scale).astype(np.float32))

    def sweeps(self, count: int | None = None, duration: float | None = None) -> Iterator[SweepRecord]:
        """Start streaming and yield sweeps until ``count`` were delivered or ``duration``
        seconds passed (or forever); stops the stream when the caller stops iterating."""
        if self.port is None:
            self.connect()
        end = None if duration is None else self._clock() + duration
        delivered = 0
        self.start()
        last_data = self._clock()
        stalled = False
        try:
            while (count is None or delivered < count) and (end is None or self._clock() < end):
                while self._pending and (count is None or delivered < count):
                    rec = self._record(self._pending.popleft())
                    if rec is not None:
                        delivered += 1
                        last_data = self._clock()
                        yield rec
                try:
                    messages = self._poll()
                except (OSError, serial.SerialException) as exc:
                    self._recover(exc)
                    last_data, stalled = self._clock(), False
                    continue
                for _rid, msg in messages:
                    if isinstance(msg, P.Sweep):
                        self._pending.append(msg)
                    elif isinstance(msg, P.Error):
                        self.stats.device_errors += 1
                if self._pending:
                    stalled = False
                    continue
                silent = self._clock() - last_data
                if silent > self.stall_timeout and not stalled:
                    stalled = True
                    self.stats.stalls += 1
                    try:  # a device that lost our START (or rebooted) starts again
                        self.start()
                    except (DeviceError, OSError, serial.SerialException):
                        pass
                if silent > 3 * self.stall_timeout:  # still nothing: treat it as a dead link
                    self._recover(DeviceTimeout(f"no sweep for {silent:.1f} s"))
                    last_data, stalled = self._clock(), False
        finally:
            if self.port is not None:
                try:
                    self.stop()
                except (DeviceError, OSError, serial.SerialException):
                    pass

    def _recover(self, cause: BaseException) -> None:
        """Reconnect with exponential backoff, re-identify and restart streaming; records the
        outage. Raises DeviceError if the device stays away longer than ``max_outage``."""
        t_start, wall_start = self._clock(), _dt.datetime.now().astimezone().isoformat(timespec="milliseconds")
        self.close()
        delay = self.backoff[0]
        while True:
            if self._clock() - t_start > self.max_outage:
                raise DeviceError(f"{self.url}: link lost ({cause}) and not back within {self.max_outage:g} s") from cause
            try:
                self.port = self._opener(self.url)
                self._splitter = P.FrameSplitter()
                ident = self._identify(self.request_timeout)
                if self.identity is not None and ident.serial != self.identity.serial:
                    raise DeviceError(f"{self.url}: a different device ({ident.serial}) answered after reconnecting; expected {self.identity.serial}")
                self.identity = ident
                self.start()
                break
            except (DeviceTimeout, OSError, serial.SerialException):
                self.close()
                time.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
        self.stats.reconnects += 1
        self.stats.outages.append((wall_start, self._clock() - t_start))
