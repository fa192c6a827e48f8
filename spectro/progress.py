"""A minimal progress line for long runs: on stderr, only when stderr is a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    """``Progress(total, "sweeps")``; call ``update(n)``; ``close()`` ends the line.

    Silent when stderr is not a terminal (pipes, logs, CI), so no control characters leak.
    """

    def __init__(self, total: int, unit: str = "sweeps", *, stream=None, enabled: bool | None = None, clock=time.monotonic):
        self.total, self.unit = int(total), unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.clock = clock
        self.start = self.last = clock()
        self.done = 0

    def update(self, n: int) -> None:
        self.done += int(n)
        now = self.clock()
        if self.enabled and (now - self.last >= 0.1 or self.done >= self.total):
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            pct = 100.0 * self.done / max(self.total, 1)
            self.stream.write(f"\r  {self.done}/{self.total} {self.unit} ({pct:5.1f}%)  {rate:8.0f}/s  ETA {eta:5.1f}s ")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
