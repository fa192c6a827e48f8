"""Serve an :class:`~firmware_bridge.emulator.EmulatedDevice` over a pseudo-terminal, an
existing serial port or TCP, with fault injection for tests (docs/protocol.md, "Emulator").

Faults touch only the bytes on the wire (bit errors, dropped bytes), the timing (a stall)
or the link itself (a disconnect and replug); the device keeps producing sweep n as the
same pure function of (seed, n), and keeps counting while the link is down, so lost sweeps
appear to the host as gaps in the sequence numbers.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import socket
import threading
import time
import tty
from dataclasses import dataclass

import numpy as np

from firmware_bridge.emulator import EmulatedDevice
from firmware_bridge.protocol import FrameSplitter


@dataclass(frozen=True)
class Faults:
    bit_error_rate: float = 0.0  # probability that each transmitted bit flips
    drop_rate: float = 0.0  # probability that each transmitted byte is lost
    stall_after: int | None = None  # stop sending (and answering) after this many sweeps ...
    stall_seconds: float = 3.0  # ... for this long
    disconnect_after: int | None = None  # unplug after this many sweeps ...
    reconnect_delay: float = 1.0  # ... and replug after this long
    seed: int = 12345

    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes:
        if not (self.bit_error_rate or self.drop_rate):
            return data
        buf = np.frombuffer(data, dtype=np.uint8).copy()
        if self.bit_error_rate:
            flips = rng.binomial(buf.size * 8, self.bit_error_rate)
            if flips:
                pos = rng.integers(0, buf.size * 8, flips)
                np.bitwise_xor.at(buf, pos // 8, (1 << (pos % 8)).astype(np.uint8))
        if self.drop_rate:
            buf = buf[rng.random(buf.size) >= self.drop_rate]
        return buf.tobytes()


class Transport:
    """The byte pipe of a served device. ``read`` never blocks longer than ``timeout``;
    ``up`` is False between an ``unplug`` and the next ``replug``."""

    path: str = ""
    up: bool = True

    def read(self, timeout: float) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    def unplug(self) -> None: ...
    def replug(self) -> None: ...
    def close(self) -> None: ...


class PtyTransport(Transport):
    """A pseudo-terminal; ``link`` (optional) is a stable symlink to the current slave, like
    a udev ``/dev/serial/by-id`` name, so a client can reopen it after an unplug/replug."""

    def __init__(self, link: str | None = None):
        self.link = link
        self._open()

    def _open(self) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)  # no echo, no newline translation: bytes pass unchanged
        self.tty = os.ttyname(self.slave)
        if self.link:
            tmp = f"{self.link}.{os.getpid()}.tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.tty, tmp)
            os.replace(tmp, self.link)
        self.path = self.link or self.tty

    def read(self, timeout: float) -> bytes:
        if self.master < 0:
            time.sleep(timeout)
            return b""
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return b""
        try:
            return os.read(self.master, 65536)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        if self.master < 0:
            return
        view = memoryview(data)
        deadline = time.monotonic() + 0.5
        while view and time.monotonic() < deadline:
            _, w, _ = select.select([], [self.master], [], 0.05)
            if w:
                try:
                    view = view[os.write(self.master, view):]
                except OSError:
                    return
        # A host that does not read for 0.5 s loses the rest (like a device's full TX buffer).

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.master = self.slave = -1
        self.up = False

    def replug(self) -> None:
        self._open()
        self.up = True

    def close(self) -> None:
        self.unplug()
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link)


class TcpTransport(Transport):
    """One client at a time on host:port; an unplug closes both the connection and the
    listening socket, so connection attempts are refused until the replug."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.conn: socket.socket | None = None
        self._listen()

    def _listen(self) -> None:
        self.server = socket.create_server((self.host, self.port), reuse_port=False)
        self.server.setblocking(False)
        self.port = self.server.getsockname()[1]
        self.path = f"socket://{self.host}:{self.port}"

    def _accept(self) -> None:
        if self.conn is None and self.server is not None:
            with contextlib.suppress(BlockingIOError, OSError):
                self.conn, _ = self.server.accept()
                self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read(self, timeout: float) -> bytes:
        self._accept()
        if self.conn is None:
            time.sleep(min(timeout, 0.01))
            return b""
        r, _, _ = select.select([self.conn], [], [], timeout)
        if not r:
            return b""
        try:
            data = self.conn.recv(65536)
        except OSError:
            data = b""
        if not data:  # the host hung up: wait for the next one
            self.conn.close()
            self.conn = None
        return data

    def write(self, data: bytes) -> None:
        self._accept()
        if self.conn is None:
            return
        try:
            self.conn.settimeout(0.5)
            self.conn.sendall(data)
        except OSError:
            self.conn.close()
            self.conn = None

    def unplug(self) -> None:
        for s in (self.conn, self.server):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()
        self.conn = self.server = None
        self.up = False

    def replug(self) -> None:
        self._listen()
        self.up = True

    def close(self) -> None:
        self.unplug()


class SerialTransport(Transport):
    """An existing serial device path (a real port, or one end of a socat pair)."""

    def __init__(self, path: str):
        import serial

        self._serial = serial
        self.path = path
        self.port = serial.Serial(path, timeout=0)

    def read(self, timeout: float) -> bytes:
        if self.port is None:
            time.sleep(timeout)
            return b""
        r, _, _ = select.select([self.port.fileno()], [], [], timeout)
        return self.port.read(65536) if r else b""

    def write(self, data: bytes) -> None:
        if self.port is not None:
            self.port.write(data)

    def unplug(self) -> None:
        if self.port is not None:
            self.port.close()
        self.port = None
        self.up = False

    def replug(self) -> None:
        self.port = self._serial.Serial(self.path, timeout=0)
        self.up = True

    def close(self) -> None:
        self.unplug()


def serve(
    device: EmulatedDevice,
    transport: Transport,
    *,
    rate_hz: float = 100.0,
    count: int | None = None,
    faults: Faults = Faults(),
    stop: threading.Event | None = None,
    linger: float = 0.5,
) -> int:
    """Run the device on ``transport`` until ``stop`` is set or ``count`` sweeps were produced
    (then ``linger`` seconds more, so the last frames drain). Returns sweeps produced."""
    stop = stop or threading.Event()
    rng = np.random.default_rng(faults.seed)
    splitter = FrameSplitter()
    t0 = time.monotonic()
    period = 1.0 / rate_hz
    next_due = t0
    stalled = unplugged = False
    done_at = None
    while not stop.is_set():
        now = time.monotonic()
        if done_at is not None and now >= done_at:
            break
        timeout = max(0.0, min(next_due - now, 0.05)) if device.streaming else 0.05
        data = transport.read(timeout)
        now = time.monotonic()
        uptime_ms = int((now - t0) * 1000)
        if data and not stalled:
            for wire in splitter.feed(data):
                for reply in device.handle(wire, uptime_ms):
                    transport.write(faults.corrupt(reply, rng))
        if not device.streaming:
            next_due = max(next_due, now)
            continue
        while device.streaming and now >= next_due and done_at is None:
            n = device.sequence
            if faults.stall_after is not None and n == faults.stall_after and not stalled:
                stalled = True
                resume = now + faults.stall_seconds
            if stalled:
                if now < resume:
                    next_due = now + 0.01
                    break
                stalled = False
                next_due = now
            if faults.disconnect_after is not None and n == faults.disconnect_after and not unplugged:
                unplugged = True
                transport.unplug()
                replug_at = now + faults.reconnect_delay
            frame = device.next_sweep_frame(int((now - t0) * 1e6))
            if frame is not None and transport.up:
                transport.write(faults.corrupt(frame, rng))
            next_due += period
            if count is not None and device.sequence >= count:
                done_at = now + linger
        if unplugged and not transport.up and now >= replug_at:
            transport.replug()
    return device.sequence

