"""The noise-predicting convolutional autoencoder (the paper's CAE), one config + one module.

Contract (stored with every checkpoint and embedded in exported models):

    scale = sqrt(mean(x²))                 per interferogram (the paper's SNR uses Σ x²)
    ê     = net(x / scale) · scale / noise_gain
    denoised = x − ê

``noise_gain`` rescales the target so the network works with O(1) numbers: at 30 dB the
noise is ~3 % of the RMS, so the network predicts noise · noise_gain / scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from calibration.config import StrictConfig

WINDOW = 101  # rows of a calibration window (the paper's Q padding + 1)


@dataclass(frozen=True)
class CAEConfig(StrictConfig):
    length: int = 64  # voltage steps
    channels: int = 16  # width of the first stage; doubles at each downsampling
    depth: int = 2  # downsampling stages (length must be divisible by 2**depth)
    kernel_size: int = 5
    global_hidden: int = 128  # width of the fully connected stage at the bottleneck (0: none)
    noise_gain: float = 32.0
    window_rank: int = 7  # > 0: also see the projection onto the best calibration window (model-based feature); 0: plain CAE
    window_stride: int = 4  # candidate windows start every this many rows
    # The window is chosen by the energy its top ``select_rank`` directions capture. Choosing
    # by all window_rank directions picks, among overlapping windows whose energies agree to
    # ~1e-6, the one that fits the most noise: measured −0.7 to −1.0 dB for the projection.
    select_rank: int = 3
    n_wavelengths: int = 3001  # calibration rows (sizes the window bases; set from the calibration)

    _kind = "CAE config"

    def __post_init__(self):
        if self.length % (2**self.depth):
            raise ValueError(f"length {self.length} is not divisible by 2**depth = {2**self.depth}")
        if self.window_rank and not 1 <= self.select_rank <= self.window_rank:
            raise ValueError(f"select_rank must be in 1..window_rank = {self.window_rank}, got {self.select_rank}")



def _block(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(cin, cout, k, padding=k // 2), nn.GELU(), nn.Conv1d(cout, cout, k, padding=k // 2), nn.GELU())


class NoiseCAE(nn.Module):
    """U-Net-style 1-D encoder–decoder with a global fully connected stage; predicts noise.

    forward(x: (B, L) raw interferograms) → (B, L) predicted noise, in the units of x.
    """

    def __init__(self, config: CAEConfig):
        super().__init__()
        self.config = config
        c, k, L = config.channels, config.kernel_size, config.length
        widths = [c * 2**i for i in range(config.depth + 1)]
        self.inp = _block(2 if config.window_rank else 1, widths[0], k)
        self.down = nn.ModuleList(nn.Sequential(nn.Conv1d(widths[i], widths[i + 1], 4, stride=2, padding=1), nn.GELU(), _block(widths[i + 1], widths[i + 1], k)) for i in range(config.depth))
        flat = widths[-1] * (L // 2**config.depth)
        self.glob = nn.Sequential(nn.Flatten(), nn.Linear(flat, config.global_hidden), nn.GELU(), nn.Linear(config.global_hidden, flat)) if config.global_hidden else None
        # Upsampling by repetition + convolution (no ConvTranspose: simpler to export and quantise).
        self.up = nn.ModuleList(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv1d(widths[i + 1], widths[i], k, padding=k // 2), nn.GELU()) for i in reversed(range(config.depth)))
        self.merge = nn.ModuleList(_block(2 * widths[i], widths[i], k) for i in reversed(range(config.depth)))
        self.out = nn.Conv1d(widths[0], 1, 1)
        if config.window_rank:
            n_win = len(range(0, config.n_wavelengths - WINDOW + 1, config.window_stride))
            # Orthonormal bases (rows) of each candidate window of calibration rows, and the
            # dark level; filled by set_calibration(), saved with the weights.
            self.register_buffer("bases", torch.zeros(n_win, config.window_rank, L))
            self.register_buffer("dark", torch.zeros(L))

    @torch.no_grad()
    def set_calibration(self, matrix, dark) -> None:
        """Fill the window bases from a calibration matrix (W, L) and dark level (L,)."""
        import numpy as np

        P = np.asarray(matrix, np.float64)
        cfg = self.config
        starts = range(0, cfg.n_wavelengths - WINDOW + 1, cfg.window_stride)
        bases = np.stack([np.linalg.svd(P[s:s + WINDOW], full_matrices=False)[2][: cfg.window_rank] for s in starts])
        self.bases.copy_(torch.from_numpy(bases))
        self.dark.copy_(torch.from_numpy(np.asarray(dark, np.float64)))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Projection of x − dark onto the subspace of the window whose leading directions
        capture most of it, + dark."""
        z = x - self.dark
        # All r directions, then sliced: slicing the bases instead would make the exporter
        # fold a second copy of them into the ONNX file.
        coef = torch.einsum("srl,bl->bsr", self.bases, z)[:, :, : self.config.select_rank]  # (B, S, r_sel)
        best = torch.argmax((coef * coef).sum(dim=2), dim=1)  # (B,)
        basis = self.bases[best]  # (B, r, L)
        return torch.einsum("brl,br->bl", basis, torch.einsum("brl,bl->br", basis, z)) + self.dark

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sqrt(torch.mean(x * x, dim=1, keepdim=True)).clamp_min(1e-12)  # (B, 1)
        if self.config.window_rank:
            p = self.project(x)
            # The network corrects the projection's noise estimate x − p.
            h = self.inp(torch.stack([x / scale, (x - p) * self.config.noise_gain / scale], dim=1))  # (B, 2, L)
            base = x - p
        else:
            h = self.inp((x / scale).unsqueeze(1))  # (B, C, L)
            base = None
        skips = [h]
        for down in self.down:
            h = down(h)  # (B, 2C, L/2) …
            skips.append(h)
        if self.glob is not None:
            h = h + self.glob(h).view_as(h)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            h = merge(torch.cat([up(h), skip], dim=1))
        noise = self.out(h).squeeze(1) * scale / self.config.noise_gain  # (B, L)
        return noise if base is None else base + noise

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        return x - self(x)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
