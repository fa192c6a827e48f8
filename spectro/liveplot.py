"""The live view of ``spectro acquire --plot`` and its PNG snapshots.

One figure, created once; every update changes the data of existing artists in place (no
new lines, no growing history), at most :data:`MAX_FPS` times a second.
"""

from __future__ import annotations

import os
import time

import numpy as np

from calibration.fileio import atomic_output
from calibration.matrix import Calibration

MAX_FPS = 20.0


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt"


class LivePlot:
    """``interactive=True`` opens a window (needs a display); False draws off-screen for
    snapshots only."""

    def __init__(self, cal: Calibration, *, interactive: bool, clock=time.monotonic):
        import matplotlib

        if not interactive:
            matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt

        self.plt, self.interactive, self.clock = plt, interactive, clock
        self.last = -np.inf
        self.fig, (self.ax_ifg, self.ax_spec) = plt.subplots(2, 1, figsize=(9, 6.5), constrained_layout=True)
        v = cal.voltage_v
        (self.raw_line,) = self.ax_ifg.plot(v, np.zeros_like(v), lw=1, color="0.6", label="raw")
        (self.den_line,) = self.ax_ifg.plot(v, np.zeros_like(v), lw=1.3, color="C0", label="denoised")
        self.ax_ifg.set(xlabel="actuation voltage (V)", ylabel="detector signal", title="Interferogram")
        self.ax_ifg.legend(loc="upper right")
        (self.spec_line,) = self.ax_spec.plot(cal.wavelength_nm, np.zeros(cal.n_wavelengths), lw=1, color="C3")
        self.ax_spec.set(xlabel="wavelength (nm)", ylabel="power / bin", title="Spectrum")
        self.peak_text = self.ax_spec.text(0.01, 0.97, "", transform=self.ax_spec.transAxes, va="top", family="monospace", fontsize=8)
        self.title = self.fig.suptitle("")
        if interactive:
            plt.ion()
            plt.show(block=False)

    def update(self, state, *, force: bool = False) -> bool:
        """Redraw from a :class:`spectro.acquire.LiveState`; False when rate-limited."""
        now = self.clock()
        if not force and now - self.last < 1.0 / MAX_FPS:
            return False
        self.last = now
        if state.raw is not None:
            self.raw_line.set_ydata(state.raw)
            self.den_line.set_ydata(state.denoised if state.denoised is not None else state.raw)
            lo, hi = float(np.min(state.raw)), float(np.max(state.raw))
            pad = 0.05 * (hi - lo or 1.0)
            self.ax_ifg.set_ylim(lo - pad, hi + pad)
        if state.spectrum is not None:
            self.spec_line.set_ydata(state.spectrum)
            self.ax_spec.set_ylim(0, max(float(np.max(state.spectrum)), 1e-12) * 1.1)
        self.peak_text.set_text("peaks (nm): " + ", ".join(f"{p:.2f}" for p in state.peaks_nm))
        self.title.set_text(state.status_line())
        if self.interactive:
            self.fig.canvas.draw_idle()
            self.fig.canvas.flush_events()
        return True

    def snapshot(self, path: str | os.PathLike) -> None:
        """Write the current view as a PNG, atomically (replaces the previous snapshot)."""
        with atomic_output(path, overwrite=True) as tmp:
            self.fig.savefig(tmp, format="png", dpi=90)

    def close(self) -> None:
        self.plt.close(self.fig)
