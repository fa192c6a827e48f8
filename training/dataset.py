"""The paper's training set: sums of 2, 3 or 4 rows from one 101-row window of Q, with white
Gaussian noise at 30 and 36 dB (seed-summary, "The denoising CAE").

Pure numpy, so it can be generated and inspected without torch. Generated in memory (60,000
× 64 float32 is 15 MB per array) and optionally cached to ``.npz`` by the caller.

Each sample: a start row i uniform in [0, W − 1] (W = 3001: i ≤ 3000); k ∈ {2, 3, 4} distinct
rows drawn from the window i … i + 100 of Q (windows starting past row W − 101 run into the
appended copy of P's first rows, exactly as the paper's padding intends); clean = the sum of
those rows (unit amplitudes, or U(0.5, 1) with ``random_amplitudes``) plus the calibration's
dark level, so the clean interferogram is what the detector would read. Then, per noisy
copy, white Gaussian noise at each SNR of ``snrs_db`` (the paper's definition, per sample),
or the physics model's structured noise on top with ``noise_model``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from calibration.matrix import Q_PAD_ROWS, Calibration, padded_q
from calibration.noise import NoiseModel, white_noise_sigma

WINDOW = Q_PAD_ROWS + 1  # 101 rows


@dataclass(frozen=True)
class DatasetConfig:
    per_k: int = 10_000  # samples for each number of lines
    ks: tuple[int, ...] = (2, 3, 4)
    snrs_db: tuple[float, ...] = (30.0, 36.0)
    random_amplitudes: bool = False  # beyond the paper: U(0.5, 1) line amplitudes
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Dataset:
    """noisy, clean, noise: (M, V) float32 with M = per_k · len(ks) · len(snrs); noise =
    noisy − clean. rows: (M, 4) the Q rows summed (−1 = unused); start, k, snr_db: (M,)."""

    noisy: np.ndarray
    clean: np.ndarray
    noise: np.ndarray
    start: np.ndarray
    rows: np.ndarray
    k: np.ndarray
    snr_db: np.ndarray
    config: DatasetConfig = field(default_factory=DatasetConfig)

    def __len__(self) -> int:
        return len(self.noisy)

    def split(self, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
        """(train, validation), shuffled; ``fraction`` goes to validation."""
        perm = np.random.default_rng(seed).permutation(len(self))
        n_val = int(round(fraction * len(self)))
        return self._take(perm[n_val:]), self._take(perm[:n_val])

    def _take(self, idx: np.ndarray) -> Dataset:
        return Dataset(self.noisy[idx], self.clean[idx], self.noise[idx], self.start[idx], self.rows[idx], self.k[idx], self.snr_db[idx], self.config)


def clean_mixtures(cal: Calibration, config: DatasetConfig, rng: np.random.Generator):
    """Clean interferograms: (start (n,), rows (n, 4), k (n,), clean (n, V) float64)."""
    Q = padded_q(cal.matrix.astype(np.float64))
    W = cal.n_wavelengths
    n = config.per_k * len(config.ks)
    k = np.repeat(np.asarray(config.ks), config.per_k)
    start = rng.integers(0, W, size=n)  # i ∈ [0, W − 1]
    # k distinct offsets in 0..100: the first k of a random permutation of the window.
    offsets = np.argsort(rng.random((n, WINDOW)), axis=1)[:, : max(config.ks)]
    rows = np.where(np.arange(max(config.ks))[None, :] < k[:, None], start[:, None] + offsets, -1)
    amps = rng.uniform(0.5, 1.0, rows.shape) if config.random_amplitudes else np.ones(rows.shape)
    amps = np.where(rows >= 0, amps, 0.0)
    clean = np.einsum("nk,nkv->nv", amps, Q[np.maximum(rows, 0)]) + cal.dark[None, :]
    return start, rows, k, clean


def synthesize(cal: Calibration, config: DatasetConfig = DatasetConfig(), noise_model: NoiseModel | None = None) -> Dataset:
    """The training set for one device. Deterministic in ``config.seed``.

    ``noise_model`` (beyond the paper) puts the physics model's structured noise under the
    white noise: the sweeps are simulated through :mod:`calibration.forward` (voltage and OPD
    jitter, drift, calibration mismatch, source intensity, shot noise, ADC), which needs a
    simulated calibration (one with device parameters). The target stays the paper's clean
    sum of calibration rows, so the noise to learn is everything else.
    """
    rng = np.random.default_rng(config.seed)
    start, rows, k, clean = clean_mixtures(cal, config, rng)
    noisy_parts, snr = [], []
    for s in config.snrs_db:
        base = clean if noise_model is None else structured(cal, rows, noise_model, rng)
        noisy_parts.append(base + white_noise_sigma(clean, s) * rng.standard_normal(clean.shape))
        snr.append(np.full(len(clean), float(s)))
    reps = len(config.snrs_db)
    noisy = np.concatenate(noisy_parts).astype(np.float32)
    clean_all = np.tile(clean, (reps, 1)).astype(np.float32)
    return Dataset(
        noisy=noisy, clean=clean_all, noise=noisy - clean_all,
        start=np.tile(start, reps), rows=np.tile(rows, (reps, 1)), k=np.tile(k, reps), snr_db=np.concatenate(snr), config=config,
    )


def structured(cal: Calibration, rows: np.ndarray, noise_model: NoiseModel, rng: np.random.Generator, amps: np.ndarray | None = None) -> np.ndarray:
    """Sweeps of the mixtures ``rows`` (Q indices, −1 unused) through the physics model with
    ``noise_model``'s structured terms (its white noise left out); (n, V) float64."""
    from calibration import calfile
    from calibration.forward import simulate
    from calibration.physics import DeviceParams

    raw = calfile.device_params(cal)
    if raw is None:
        raise ValueError("structured noise is simulated through the physics model: it needs a simulated calibration")
    params = DeviceParams.from_dict(raw)
    W = cal.n_wavelengths
    n = len(rows)
    spectra = np.zeros((n, W))
    r_i, k_i = np.nonzero(rows >= 0)
    np.add.at(spectra, (r_i, rows[r_i, k_i] % W), 1.0 if amps is None else amps[r_i, k_i])  # Q's tail repeats P's head
    model = NoiseModel(**{**noise_model.to_dict(), "white_snr_db": None, "adc_bits": None})
    _, noisy = simulate(params, spectra, model, rng, sweep_index=rng.integers(0, 10**6, n))
    if noise_model.adc_bits:  # quantise with the gain set so that the brightest sweep fits, as on a bench
        full = 2.0 ** np.ceil(np.log2(1.1 * noisy.max()))
        lsb = full / 2**noise_model.adc_bits
        noisy = np.clip(np.round(noisy / lsb), 0, 2**noise_model.adc_bits - 1) * lsb
    return noisy
