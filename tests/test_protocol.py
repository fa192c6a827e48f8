"""Wire protocol: golden frames (also in docs/protocol.md), round trips, corruption, fuzzing."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import protocol as P
from firmware_bridge.errors import ProtocolError

GOLDEN = [
    (lambda: P.encode_frame(P.MsgType.IDENTIFY_REQ, request_id=1), "04 01 01 01 01 01 05 d3 3c 42 ff 00"),
    (lambda: P.encode_message(P.Identity("EMU-0001", (1, 0, 0), 1, 16, 2.0, 200, 1, (0.0, 10.0, 20.0, 40.0)), 1),
     "04 01 81 01 02 31 03 01 01 01 02 10 01 01 03 40 c8 01 01 02 01 02 04 09 45 4d 55 2d 30 30 30 31 01 01 01 01 01 01 01 01 01 01 01 01 01 03 20 41 01 03 a0 41 01 07 20 42 47 6b 7f 82 00"),
    (lambda: P.encode_message(P.Configure(500, 4, ()), 2), "04 01 02 02 02 08 03 f4 01 01 02 04 01 01 05 c2 75 30 81 00"),
    (lambda: P.encode_message(P.Start(0), 3), "04 01 03 03 02 04 01 01 01 01 05 78 7a db 20 00"),
    (lambda: P.encode_message(P.Ack(P.MsgType.START), 3), "04 01 82 03 02 01 06 03 44 20 08 b7 00"),
    (lambda: P.encode_message(P.Sweep(258, 1_000_000, P.Status.SATURATED, (0, 1, 65535, 4660))),
     "03 01 90 01 02 18 03 02 01 01 04 40 42 0f 01 01 01 01 02 01 02 04 01 01 02 01 09 ff ff 34 12 bd 1c da 61 00"),
    (lambda: P.encode_frame(P.MsgType.STOP, request_id=4), "04 01 04 04 01 01 04 91 43 7c 01 00"),
    (lambda: P.encode_message(P.Error(4, "busy"), 2), "04 01 83 02 02 05 0a 04 62 75 73 79 51 0b ab c0 00"),
    (lambda: P.encode_frame(P.MsgType.HEARTBEAT, request_id=5), "04 01 05 05 01 01 05 44 0d a0 85 00"),
    (lambda: P.encode_message(P.Heartbeat(1234), 5), "04 01 85 05 02 04 03 d2 04 01 05 f4 d3 af 78 00"),
]
DOC = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()


def test_crc_check_value():
    assert P.crc32(b"123456789") == 0xCBF43926


@pytest.mark.parametrize("make, hexbytes", GOLDEN)
def test_golden_frames(make, hexbytes):
    wire = bytes.fromhex(hexbytes)
    assert make() == wire
    assert f"`{hexbytes}`" in DOC  # the document shows exactly these bytes
    rid, msg = P.decode_message(wire[:-1])
    assert P.encode_message(msg, rid) == wire if not isinstance(msg, int) else P.encode_frame(msg, request_id=rid) == wire


def test_golden_sweep_decodes():
    _, msg = P.decode_message(bytes.fromhex(GOLDEN[5][1])[:-1])
    assert msg == P.Sweep(258, 1_000_000, P.Status.SATURATED, (0, 1, 65535, 4660))


@given(st.binary(max_size=2000))
def test_cobs_round_trip(data):
    enc = P.cobs_encode(data)
    assert 0 not in enc
    assert P.cobs_decode(enc) == data
    assert len(enc) <= len(data) + len(data) // 254 + 1


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), st.integers(0, 0xFFFF), st.lists(st.integers(0, 0xFFFF), max_size=128), st.integers(0, 0xFFFF))
def test_sweep_round_trip(seq, ts, status, samples, rid):
    msg = P.Sweep(seq, ts, status, tuple(samples))
    assert P.decode_message(P.encode_message(msg, rid)[:-1]) == (rid, msg)


@settings(max_examples=100)
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=16),
       st.lists(st.floats(0, 100, width=32), max_size=64), st.integers(0, 2**32 - 1), st.integers(1, 0xFFFF))
def test_identity_and_configure_round_trip(serial, volts, settle, avg):
    ident = P.Identity(serial, (2, 3, 4), 1, 12, 2.5, settle, avg, tuple(volts))
    assert P.decode_message(P.encode_message(ident, 9)[:-1]) == (9, ident)
    conf = P.Configure(settle, avg, tuple(volts))
    assert P.decode_message(P.encode_message(conf, 9)[:-1]) == (9, conf)


def test_every_single_bit_flip_is_rejected():
    wire = bytes.fromhex(GOLDEN[5][1])[:-1]
    for bit in range(len(wire) * 8):
        bad = bytearray(wire)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ProtocolError):
            P.decode_message(bytes(bad))


def test_every_truncation_is_rejected():
    wire = bytes.fromhex(GOLDEN[1][1])[:-1]
    for k in range(len(wire)):
        with pytest.raises(ProtocolError):
            P.decode_message(wire[:k])


def test_fuzz_100k_inputs_only_protocol_errors_and_no_false_accept():
    """Random bytes and mutated valid frames: decoding raises ProtocolError or returns a
    message identical to the one that was sent (a CRC collision would show up here)."""
    rng = np.random.default_rng(2026)
    valid = [bytes.fromhex(h)[:-1] for _, h in GOLDEN] + [
        P.encode_message(P.Sweep(int(s), 77, 0, tuple(rng.integers(0, 65536, 64).tolist())))[:-1] for s in range(20)
    ]
    decoded = {w: P.decode_message(w) for w in valid}
    accepted = 0
    for i in range(100_000):
        kind = i % 4
        if kind == 0:
            data = rng.integers(0, 256, rng.integers(0, 300), dtype=np.uint8).tobytes()
        else:
            src = valid[rng.integers(len(valid))]
            buf = bytearray(src)
            if kind == 1:  # flip 1–8 random bits
                for b in rng.integers(0, len(buf) * 8, rng.integers(1, 9)):
                    buf[b // 8] ^= 1 << (b % 8)
            elif kind == 2:  # cut or insert bytes
                k = int(rng.integers(0, len(buf)))
                buf = buf[:k] + (rng.integers(0, 256, rng.integers(0, 4), dtype=np.uint8).tobytes()) + buf[k + int(rng.integers(0, 4)):]
            else:  # overwrite a run with random bytes
                k = int(rng.integers(0, len(buf)))
                buf[k:k + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
            data = bytes(buf)
        try:
            result = P.decode_message(data)
        except ProtocolError:
            continue
        accepted += 1
        assert data in decoded and decoded[data] == result, "a corrupted frame was accepted"
    assert accepted < 5_000  # only inputs that happened to equal a valid frame


def test_frame_splitter_resyncs_and_handles_short_reads():
    a = P.encode_message(P.Sweep(1, 0, 0, (1, 2, 3)))
    b = P.encode_message(P.Sweep(2, 0, 0, (4, 5, 6)))
    stream = b"\x13\x37garbage" + a + b"\xff\xff\x00" + b + b[:5]
    sp = P.FrameSplitter()
    frames = [f for i in range(len(stream)) for f in sp.feed(stream[i:i + 1])]  # one byte at a time
    assert len(frames) == 3
    for bad in frames[:2]:  # garbage glued to frame a, and a run of garbage: rejected, not misread
        with pytest.raises(ProtocolError):
            P.decode_message(bad)
    assert P.decode_message(frames[2])[1] == P.Sweep(2, 0, 0, (4, 5, 6))  # in sync again
    sp2 = P.FrameSplitter()
    assert list(sp2.feed(b"\x01" * 10_000)) == [] and sp2.discarded == 10_000  # bounded memory
    assert [P.decode_message(f)[1].sequence for f in sp2.feed(a)] == [1]


def test_encoder_rejects_oversize_and_unknown():
    with pytest.raises(ValueError, match="exceeds"):
        P.encode_frame(P.MsgType.SWEEP, b"\x01" * 5000)
    with pytest.raises(TypeError):
        P.encode_message(object())
    with pytest.raises(ProtocolError, match="unknown message type"):
        P.decode_message(P.encode_frame(0x7E, b"")[:-1])
