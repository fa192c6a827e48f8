"""Client ↔ emulated device over real byte pipes (pty, TCP), with injected faults."""

import subprocess
import sys
import time

import numpy as np
import pytest
from _emu import device, served

from firmware_bridge import protocol as P
from firmware_bridge.client import DeviceClient, open_serial
from firmware_bridge.errors import DeviceError, DeviceReportedError, DeviceTimeout
from firmware_bridge.serve import Faults, PtyTransport, TcpTransport

_device = device


def _check_against_reference(records, seed=0):
    ref = _device(seed)
    for rec in records:
        assert np.array_equal(rec.codes, np.asarray(ref.sweep(rec.sequence).samples, dtype=np.uint16)), rec.sequence


# -- the firmware state machine ---------------------------------------------------------
def test_emulator_requests():
    dev = _device()
    ident = P.decode_message(dev.handle(P.encode_frame(P.MsgType.IDENTIFY_REQ, request_id=7)[:-1])[0][:-1])
    assert ident[0] == 7 and ident[1].n_steps == 64 and ident[1].serial == "EMU-0001"
    assert P.decode_message(dev.handle(P.encode_message(P.Start(2), 8)[:-1])[0][:-1])[1] == P.Ack(P.MsgType.START)
    busy = P.decode_message(dev.handle(P.encode_message(P.Configure(100, 2), 9)[:-1])[0][:-1])[1]
    assert busy.code == P.ErrorCode.BUSY
    frames = [dev.next_sweep_frame(0) for _ in range(3)]
    assert frames[2] is None and not dev.streaming  # START count=2 sends exactly two
    bad = P.decode_message(dev.handle(P.encode_message(P.Configure(100, 2, (1.0, 2.0)), 10)[:-1])[0][:-1])[1]
    assert bad.code == P.ErrorCode.BAD_PAYLOAD
    garbage = P.decode_message(dev.handle(b"\x05\x01\x02\x03\x04")[0][:-1])[1]
    assert garbage.code == P.ErrorCode.BAD_FRAME


def test_sweep_n_is_a_pure_function_of_seed_and_n():
    a, b = _device(0), _device(0)
    assert a.sweep(12345) == b.sweep(12345)
    assert a.sweep(1).samples != a.sweep(2).samples
    assert _device(1).sweep(5).samples != a.sweep(5).samples


# -- links -------------------------------------------------------------------------------
def test_clean_pty_at_1000_sweeps_per_second_loses_nothing():
    tr = PtyTransport()
    with served(tr, rate=1000.0):
        with DeviceClient(tr.path) as client:
            t = time.monotonic()
            recs = list(client.sweeps(count=1500))
            elapsed = time.monotonic() - t
            assert client.stats.lost == 0 and client.stats.bad_frames == 0
    assert [r.sequence for r in recs] == list(range(recs[0].sequence, recs[0].sequence + 1500))
    assert elapsed < 3.0  # kept up with the device (1.5 s of sweeps)
    _check_against_reference(recs)
    assert recs[0].signal.dtype == np.float32 and 0 < recs[0].signal.mean() < 2.0


def test_bit_errors_and_drops_every_delivered_sweep_is_exact_every_loss_counted():
    tr = PtyTransport()
    with served(tr, Faults(bit_error_rate=1e-4, drop_rate=1e-4), rate=1000.0):
        with DeviceClient(tr.path) as client:
            recs = list(client.sweeps(count=2000))
            stats = client.stats
    _check_against_reference(recs)
    span = recs[-1].sequence - recs[0].sequence + 1
    assert stats.sweeps == 2000 and span == 2000 + stats.lost  # delivered + lost = produced
    assert stats.bad_frames > 0 and stats.lost > 0  # the faults really happened


def test_unplug_and_replug_reconnects_within_2_s(tmp_path):
    tr = PtyTransport(link=str(tmp_path / "spectro-emu"))
    with served(tr, Faults(disconnect_after=300, reconnect_delay=0.5), rate=500.0):
        with DeviceClient(tr.path) as client:
            recs = list(client.sweeps(count=600))
            stats = client.stats
    assert stats.reconnects == 1 and len(stats.outages) == 1
    assert stats.outages[0][1] < 0.5 + 2.0  # back within 2 s of the port's return
    assert recs[-1].sequence > 300 and stats.lost > 0  # sweeps produced while unplugged are counted
    _check_against_reference(recs)


def test_stall_is_detected_and_survived():
    tr = PtyTransport()
    with served(tr, Faults(stall_after=100, stall_seconds=1.2), rate=500.0):
        client = DeviceClient(tr.path, stall_timeout=0.4)
        with client:
            recs = list(client.sweeps(count=200))
    assert client.stats.stalls >= 1 and len(recs) == 200
    _check_against_reference(recs)


def test_tcp_link():
    tr = TcpTransport("127.0.0.1", 0)
    with served(tr, rate=500.0):
        with DeviceClient(tr.path) as client:
            recs = list(client.sweeps(count=100))
            assert client.identity.serial == "EMU-0001" and client.stats.lost == 0
    _check_against_reference(recs)


class _ShortReads:
    """A port that returns at most 3 bytes per read, as pyserial may."""

    def __init__(self, port):
        self._port = port

    def read(self, n=1):
        return self._port.read(min(n, 3))

    def __getattr__(self, name):
        return getattr(self._port, name)


def test_short_reads_are_handled():
    tr = PtyTransport()
    with served(tr, rate=200.0):
        with DeviceClient(tr.path, opener=lambda url: _ShortReads(open_serial(url))) as client:
            recs = list(client.sweeps(count=50))
    assert len(recs) == 50 and client.stats.bad_frames == 0
    _check_against_reference(recs)


# -- bad ports and silent devices --------------------------------------------------------------
def test_port_that_does_not_exist():
    with pytest.raises(DeviceError, match="cannot open /dev/does-not-exist"):
        DeviceClient("/dev/does-not-exist").connect()


def test_device_that_never_answers_times_out():
    tr = PtyTransport()  # nobody serves it
    try:
        t = time.monotonic()
        with pytest.raises(DeviceTimeout, match="no answer to IDENTIFY"):
            DeviceClient(tr.path, ready_timeout=0.6).connect()
        assert time.monotonic() - t < 2.0
    finally:
        tr.close()


def test_loopback_is_not_a_device():
    with pytest.raises(DeviceError, match="expected IDENTIFY"):
        DeviceClient("loop://", ready_timeout=0.5).connect()


def test_busy_port_is_refused():
    tr = PtyTransport()
    with served(tr, rate=100.0):
        with DeviceClient(tr.path):
            with pytest.raises(DeviceError, match="in use"):
                DeviceClient(tr.path).connect()


def test_device_errors_are_reported_with_their_code():
    tr = PtyTransport()
    with served(tr, rate=100.0):
        with DeviceClient(tr.path) as client:
            with pytest.raises(DeviceReportedError) as e:
                client.configure(settle_us=100, voltages_v=[1.0, 2.0])
            assert e.value.code == P.ErrorCode.BAD_PAYLOAD
            client.configure(settle_us=300, averaging=2)
            assert client.identity.settle_us == 300 and client.identity.averaging == 2


# -- the command ---------------------------------------------------------------------------
@pytest.mark.parametrize("where", [["--pty"], ["--tcp", "127.0.0.1:0"]])
def test_spectro_emulate_command(where):
    source = "lines:1530@0.5,1531.2@0.4,1600@0.3"
    proc = subprocess.Popen([sys.executable, "-m", "spectro", "emulate", *where, "--rate", "500", "--seed", "3", "--source", source],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        path = line.rsplit(" on ", 1)[1].strip()
        with DeviceClient(path) as client:
            recs = list(client.sweeps(count=50))
        assert len(recs) == 50 and not any(r.status & P.Status.SATURATED for r in recs)
        _check_against_reference(recs, seed=3)
    finally:
        proc.terminate()
        proc.wait(10)


def test_spy_url_dumps_the_traffic(tmp_path):
    tr = PtyTransport()
    log = tmp_path / "spy.txt"
    with served(tr, rate=200.0):
        with DeviceClient(f"spy://{tr.path}?file={log}") as client:
            recs = list(client.sweeps(count=5))
    assert len(recs) == 5
    dump = log.read_text()
    assert "TX" in dump and "04 01 01 01 01 01 05 D3" in dump  # pyserial's hex dump: our IDENTIFY_REQ
