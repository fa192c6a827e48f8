"""Physics model of the MEMS-actuated interferometer (see docs/physics.md).

The detector signal for monochromatic light of wavelength λ at actuation voltage V is

    P(λ, V) = η(λ) · ½ · [1 + v(λ) · cos(2π · OPD(λ, V) / λ + φ0)] + b

with an electrostatic actuator (displacement ∝ V², slightly stiffening), so the optical
path difference sweeps from ~0 to ΔOPD_max as a chirp over linearly stepped voltages:

    u(V)      = s² · (1 + γ · (s² − 1)) / 1,        s = (V − V_min) / (V_max − V_min)
    OPD(λ, V) = OPD_0 + ΔOPD_max · u(V) · (1 + D · (λ − λ_c))

D is the relative dispersion of the tuning (1/nm), v(λ) the fringe visibility, η(λ) the
envelope (source coupling × detector responsivity), b the dark offset. All functions here
are pure; arrays are float64.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from calibration.config import StrictConfig


@dataclass(frozen=True)
class DeviceParams(StrictConfig):
    """Design parameters of one interferometer. Lengths in nm/µm as named, voltages in V."""

    _kind = "device parameter"

    wavelength_start_nm: float = 1480.0
    wavelength_stop_nm: float = 1630.0
    n_wavelengths: int = 3001
    n_voltages: int = 64
    voltage_min_v: float = 0.0
    voltage_max_v: float = 40.0
    opd_max_um: float = 600.0  # ΔOPD_max: OPD swept by the actuator at V_max
    opd_offset_um: float = 0.0  # OPD_0 at V_min (fabrication imbalance)
    stiffening: float = 0.06  # γ: spring stiffening, bends u(V) away from a pure V² law
    dispersion_per_nm: float = -1.2e-4  # D: relative change of the tuning per nm
    phase0_rad: float = 0.3  # φ0
    visibility_center: float = 0.92  # v(λ_c)
    visibility_curvature: float = 0.12  # v drops by this much at the band edges
    envelope_slope: float = 0.35  # η rises by this fraction across the band (responsivity ∝ λ-ish)
    envelope_ripple: float = 0.03  # small etalon ripple on η
    envelope_ripple_period_nm: float = 23.0
    dark_offset: float = 0.01  # b, in the same units as η

    @property
    def center_nm(self) -> float:
        return 0.5 * (self.wavelength_start_nm + self.wavelength_stop_nm)

    def wavelengths_nm(self) -> np.ndarray:
        """Wavelength grid, shape (n_wavelengths,), nm, strictly increasing."""
        return np.linspace(self.wavelength_start_nm, self.wavelength_stop_nm, self.n_wavelengths)

    def voltages_v(self) -> np.ndarray:
        """Actuation voltages, shape (n_voltages,), V, linear steps."""
        return np.linspace(self.voltage_min_v, self.voltage_max_v, self.n_voltages)



#: Relative fabrication spread (1 σ) applied by :func:`device_from_seed` for seeds ≠ 0.
FABRICATION_SPREAD = {
    "opd_max_um": 0.03,
    "stiffening": 0.3,
    "dispersion_per_nm": 0.2,
    "visibility_center": 0.02,
    "envelope_slope": 0.1,
}

REFERENCE_SEED = 0


def device_from_seed(seed: int = REFERENCE_SEED, base: DeviceParams | None = None) -> DeviceParams:
    """A device of the reference design.

    Seed 0 is the reference device: exactly the nominal :class:`DeviceParams`. Any other seed
    draws a fabrication spread (:data:`FABRICATION_SPREAD`, relative, Gaussian) and a random
    φ0, giving another chip of the same design.
    """
    base = base or DeviceParams()
    if seed == REFERENCE_SEED:
        return base
    rng = np.random.default_rng(seed)
    changes = {}
    for name, rel in FABRICATION_SPREAD.items():
        changes[name] = getattr(base, name) * (1.0 + rel * rng.standard_normal())
    changes["visibility_center"] = float(np.clip(changes["visibility_center"], 0.5, 0.99))
    changes["phase0_rad"] = float(rng.uniform(-np.pi, np.pi))
    return dataclasses.replace(base, **changes)


def actuation(params: DeviceParams, voltages_v: np.ndarray) -> np.ndarray:
    """Normalised actuator displacement u(V) ∈ [0, 1]; same shape as ``voltages_v``."""
    s = (np.asarray(voltages_v, float) - params.voltage_min_v) / (params.voltage_max_v - params.voltage_min_v)
    s2 = s * s
    return s2 * (1.0 + params.stiffening * (s2 - 1.0))


def opd_um(params: DeviceParams, wavelengths_nm: np.ndarray, voltages_v: np.ndarray) -> np.ndarray:
    """OPD(λ, V) in µm, broadcasting ``wavelengths_nm[..., :, None]`` against ``voltages_v[..., None, :]``."""
    lam = np.asarray(wavelengths_nm, float)[..., :, None]
    u = actuation(params, voltages_v)[..., None, :]
    return params.opd_offset_um + params.opd_max_um * u * (1.0 + params.dispersion_per_nm * (lam - params.center_nm))


def visibility(params: DeviceParams, wavelengths_nm: np.ndarray) -> np.ndarray:
    x = (np.asarray(wavelengths_nm, float) - params.center_nm) / (0.5 * (params.wavelength_stop_nm - params.wavelength_start_nm))
    return params.visibility_center - params.visibility_curvature * x * x


def envelope(params: DeviceParams, wavelengths_nm: np.ndarray) -> np.ndarray:
    lam = np.asarray(wavelengths_nm, float)
    x = (lam - params.wavelength_start_nm) / (params.wavelength_stop_nm - params.wavelength_start_nm)
    ripple = params.envelope_ripple * np.sin(2 * np.pi * lam / params.envelope_ripple_period_nm)
    return (1.0 - params.envelope_slope * (1.0 - x)) * (1.0 + ripple)


def response(
    params: DeviceParams,
    wavelengths_nm: np.ndarray | None = None,
    voltages_v: np.ndarray | None = None,
    *,
    opd_shift_um: np.ndarray | float = 0.0,
    include_dark: bool = True,
) -> np.ndarray:
    """Detector signal P(λ, V) for unit optical power at each wavelength.

    Parameters
    ----------
    wavelengths_nm : (W,) array, default the device grid.
    voltages_v : (V,) or (N, V) array, default the device voltage table. A batch of voltage
        tables (one per sweep) models actuation-voltage jitter.
    opd_shift_um : scalar or array broadcastable to (..., 1, V) — extra OPD (vibration, drift).
    include_dark : add the dark offset b (a physical detector reading does; a dark-subtracted
        calibration matrix does not).

    Returns
    -------
    (W, V) or (N, W, V) float64 array.
    """
    lam = params.wavelengths_nm() if wavelengths_nm is None else np.asarray(wavelengths_nm, float)
    volts = params.voltages_v() if voltages_v is None else np.asarray(voltages_v, float)
    opd = opd_um(params, lam, volts) + np.asarray(opd_shift_um, float)
    phase = 2.0 * np.pi * opd / (lam[:, None] * 1e-3) + params.phase0_rad
    vis = visibility(params, lam)[:, None]
    eta = envelope(params, lam)[:, None]
    signal = eta * 0.5 * (1.0 + vis * np.cos(phase))
    return signal + params.dark_offset if include_dark else signal


def ideal_matrix(params: DeviceParams) -> np.ndarray:
    """The noise-free, dark-subtracted calibration matrix P, shape (W, V), rows = wavelengths."""
    return response(params, include_dark=False)
