"""Serial link under faults and at speed: the client against the emulated device.

    python benchmarks/bench_link.py [--sweeps 10000]

1. ≥ 10,000 sweeps over a pty at bit-error rate 1e-4 plus random byte drops (1e-4): every
   delivered sweep is compared with the clean device's sweep of the same sequence number;
   delivered + counted losses must equal the sweeps produced.
2. The highest sustained rate over a pty without loss on a clean link.
3. Decoder fuzzing throughput (random and mutated frames).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, table  # noqa: E402

from calibration import reference, sources  # noqa: E402
from calibration.noise import NoiseModel  # noqa: E402
from firmware_bridge import protocol as P  # noqa: E402
from firmware_bridge.client import DeviceClient  # noqa: E402
from firmware_bridge.emulator import EmulatedDevice  # noqa: E402
from firmware_bridge.errors import ProtocolError  # noqa: E402
from firmware_bridge.serve import Faults, PtyTransport, serve  # noqa: E402


def device():
    params = reference.reference_params()
    spectrum, _ = sources.parse_source("lines:1530@0.5,1531.2@0.4,1600@0.3", params.wavelengths_nm())
    return EmulatedDevice(params, spectrum, NoiseModel(white_snr_db=35.0))


def run(count: int, rate: float, faults: Faults, link: str | None = None) -> dict:
    dev, tr, stop = device(), PtyTransport(link=link), threading.Event()
    th = threading.Thread(target=serve, args=(dev, tr), kwargs=dict(rate_hz=rate, faults=faults, stop=stop), daemon=True)
    th.start()
    ref = device()
    mismatches, crashed = 0, None
    t0 = time.monotonic()
    try:
        with DeviceClient(tr.path) as client:
            first = last = None
            for rec in client.sweeps(count=count):
                first = rec.sequence if first is None else first
                last = rec.sequence
                if not np.array_equal(rec.codes, np.asarray(ref.sweep(rec.sequence).samples, dtype=np.uint16)):
                    mismatches += 1
            stats = client.stats
    except Exception as exc:  # noqa: BLE001 - a benchmark reports crashes instead of dying
        crashed = repr(exc)
        stats = None
    elapsed = time.monotonic() - t0
    stop.set()
    th.join(5)
    tr.close()
    return {"stats": stats, "mismatches": mismatches, "elapsed": elapsed, "span": (last - first + 1) if stats else 0, "crashed": crashed}


def fuzz(n: int) -> tuple[int, float]:
    rng = np.random.default_rng(7)
    valid = P.encode_message(P.Sweep(5, 6, 0, tuple(range(64))))[:-1]
    t = time.perf_counter()
    other = 0
    for i in range(n):
        if i % 2:
            data = rng.integers(0, 256, rng.integers(0, 300), dtype=np.uint8).tobytes()
        else:
            buf = bytearray(valid)
            for b in rng.integers(0, len(buf) * 8, rng.integers(1, 9)):
                buf[b // 8] ^= 1 << (b % 8)
            data = bytes(buf)
        try:
            P.decode_message(data)
            other += data != valid  # a false accept
        except ProtocolError:
            pass
    return other, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweeps", type=int, default=10_000)
    ap.add_argument("--fuzz", type=int, default=200_000)
    args = ap.parse_args()
    print(f"machine: {machine()}\n")
    r = run(args.sweeps, 1000.0, Faults(bit_error_rate=1e-4, drop_rate=1e-4))
    s = r["stats"]
    print(f"faulty link (BER 1e-4, byte drops 1e-4), 1000 sweeps/s over a pty, {args.sweeps} sweeps delivered:\n")
    print(table(["delivered", "lost (counted)", "produced (sequence span)", "bad frames dropped", "delivered ≠ clean sweep", "crashes", "time (s)"],
                [[s.sweeps, s.lost, r["span"], s.bad_frames, r["mismatches"], r["crashed"] or 0, r["elapsed"]]]))
    print(f"\ndelivered + lost == produced: {s.sweeps + s.lost == r['span']}\n")
    rows = []
    for rate in (1000, 2000, 4000, 8000):
        q = run(int(rate * 3), float(rate), Faults())
        st = q["stats"]
        rows.append([rate, st.sweeps / q["elapsed"] if st else 0.0, st.lost if st else "crash", st.bad_frames if st else "", q["mismatches"]])
    print("clean link over a pty, 3 s at each rate:\n")
    print(table(["emulator rate (sweeps/s)", "received (sweeps/s)", "lost", "bad frames", "mismatches"], rows))
    outages = []
    for k in range(5):
        u = run(600, 500.0, Faults(disconnect_after=300, reconnect_delay=0.5, seed=k), link=f"/tmp/spectro-bench-link-{k}")
        outages.append(u["stats"].outages[0][1] if u["stats"] and u["stats"].outages else float("nan"))
    print(f"\nunplug after 300 sweeps, replug 0.5 s later (5 runs): outage seen by the client {np.nanmin(outages):.2f}–{np.nanmax(outages):.2f} s "
          f"→ reconnected {np.nanmin(outages) - 0.5:.2f}–{np.nanmax(outages) - 0.5:.2f} s after the port returned")
    false_accepts, dt = fuzz(args.fuzz)
    print(f"\ndecoder fuzz: {args.fuzz} random/mutated inputs in {dt:.1f} s ({args.fuzz / dt:,.0f}/s), false accepts: {false_accepts}, exceptions other than ProtocolError: 0")


if __name__ == "__main__":
    main()
