"""Autoencoder backbones behind one contract, and the registry that names them.

Every backbone maps raw interferograms (B, L) to an :class:`AEOutput` in the units of the
input: ``recon`` (the reconstruction / denoised sweep), ``latent`` (the bottleneck code),
and for the VAE ``mean``/``logvar``. Inputs are normalised inside the model (per-sweep RMS,
or a fixed scale where the level itself matters, e.g. for fault detection), so exported
models take raw sweeps. Objectives live in :mod:`training.objectives`, not here.

    REGISTRY = {name: (config class, model class, default objective)}

``cae`` is the paper's noise-predicting CAE (:class:`training.models.NoiseCAE`), wrapped.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from calibration.config import StrictConfig
from training.models import CAEConfig, NoiseCAE


@dataclass
class AEOutput:
    recon: torch.Tensor  # (B, L) reconstruction in input units
    latent: torch.Tensor  # (B, k) bottleneck code
    mean: torch.Tensor | None = None  # VAE: q(z|x) mean (B, k)
    logvar: torch.Tensor | None = None  # VAE: q(z|x) log-variance (B, k)
    noise: torch.Tensor | None = None  # CAE: the predicted noise (B, L)


@dataclass(frozen=True)
class MLPConfig(StrictConfig):
    """linear / ae / dae / vae: fully connected encoder → k-dim bottleneck → decoder."""

    length: int = 64
    hidden: tuple[int, ...] = (256, 128)  # empty for the linear AE
    latent: int = 8
    normalise: str = "rms"  # "rms": per-sweep RMS; "fixed": divide by `scale` (keeps the level visible)
    scale: float = 1.0
    beta: float = 1.0  # VAE only: weight of the KL term

    _kind = "autoencoder config"

    def __post_init__(self):
        if self.latent < 1 or self.latent >= self.length:
            raise ValueError(f"latent must be in 1..{self.length - 1} for input length {self.length}, got {self.latent}")
        if self.normalise not in ("rms", "fixed"):
            raise ValueError(f"normalise must be 'rms' or 'fixed', got {self.normalise!r}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))


def _normaliser(cfg, x: torch.Tensor) -> torch.Tensor:
    if cfg.normalise == "fixed":
        return torch.full_like(x[:, :1], cfg.scale)
    return torch.sqrt(torch.mean(x * x, dim=1, keepdim=True)).clamp_min(1e-12)


def _mlp(sizes: list[int], final_act: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or final_act:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class MLPAutoencoder(nn.Module):
    """``linear`` (no hidden layers, no activation: the linear AE that learns PCA's
    subspace), ``ae`` and ``dae`` (same network, other objective)."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        sizes = [config.length, *config.hidden, config.latent]
        self.encoder = _mlp(sizes)
        self.decoder = _mlp(sizes[::-1])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x / _normaliser(self.config, x))

    def forward(self, x: torch.Tensor) -> AEOutput:
        scale = _normaliser(self.config, x)
        z = self.encoder(x / scale)
        return AEOutput(recon=self.decoder(z) * scale, latent=z)


class VAE(nn.Module):
    """β-VAE: the encoder gives mean and log-variance; z = mean + σ·ε while training (the
    reparameterisation trick), z = mean in eval mode."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        sizes = [config.length, *config.hidden]
        self.body = _mlp(sizes, final_act=True) if config.hidden else nn.Identity()
        width = sizes[-1]
        self.mean, self.logvar = nn.Linear(width, config.latent), nn.Linear(width, config.latent)
        self.decoder = _mlp([config.latent, *config.hidden[::-1], config.length])

    def forward(self, x: torch.Tensor) -> AEOutput:
        scale = _normaliser(self.config, x)
        h = self.body(x / scale)
        mean, logvar = self.mean(h), self.logvar(h).clamp(-12, 8)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean) if self.training else mean
        return AEOutput(recon=self.decoder(z) * scale, latent=mean, mean=mean, logvar=logvar)

    @torch.no_grad()
    def sample(self, n: int, scale: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode n draws from the prior N(0, I) (normalised units × ``scale``)."""
        z = torch.randn(n, self.config.latent, generator=generator)
        return self.decoder(z) * scale


# ----------------------------------------------------------------------------- DC-AE --

def space_to_channel(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """(B, C, L) → (B, C·f, L/f): channel c·f + j holds x[c, i·f + j]."""
    b, c, n = x.shape
    return x.reshape(b, c, n // factor, factor).permute(0, 1, 3, 2).reshape(b, c * factor, n // factor)


def channel_to_space(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """The inverse of :func:`space_to_channel`: (B, C, L) → (B, C/f, L·f)."""
    b, c, n = x.shape
    return x.reshape(b, c // factor, factor, n).permute(0, 1, 3, 2).reshape(b, c // factor, n * factor)


def down_shortcut(x: torch.Tensor, out_channels: int) -> torch.Tensor:
    """DC-AE's non-parametric down shortcut: space-to-channel, then average groups of
    consecutive channels down to ``out_channels``."""
    y = space_to_channel(x)
    b, c, n = y.shape
    if c % out_channels:
        raise ValueError(f"{c} channels cannot be averaged into {out_channels}")
    return y.reshape(b, out_channels, c // out_channels, n).mean(dim=2)


def up_shortcut(x: torch.Tensor, out_channels: int) -> torch.Tensor:
    """The matching up shortcut: duplicate channels, then channel-to-space; so that
    ``down_shortcut(up_shortcut(x, c), x.shape[1]) == x``."""
    b, c, n = x.shape
    if (2 * out_channels) % c:
        raise ValueError(f"{c} channels cannot be duplicated into {2 * out_channels}")
    return channel_to_space(x.repeat_interleave(2 * out_channels // c, dim=1))


@dataclass(frozen=True)
class DCAEConfig(StrictConfig):
    length: int = 64
    channels: tuple[int, ...] = (16, 32, 64)  # width after each downsampling stage (×2 downsampling each)
    latent_channels: int = 4
    shortcuts: bool = True  # False: the same network without the residual shortcuts (the ablation)
    normalise: str = "rms"
    scale: float = 1.0

    _kind = "DC-AE config"

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.length % (2 ** len(self.channels)):
            raise ValueError(f"length {self.length} is not divisible by 2**{len(self.channels)} (one halving per stage)")
        if self.normalise not in ("rms", "fixed"):
            raise ValueError(f"normalise must be 'rms' or 'fixed', got {self.normalise!r}")

    @property
    def compression(self) -> float:
        return self.length / (self.latent_channels * self.length / 2 ** len(self.channels))


class _Down(nn.Module):
    def __init__(self, cin: int, cout: int, shortcut: bool):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(cin, cout, 4, stride=2, padding=1), nn.GELU(), nn.Conv1d(cout, cout, 3, padding=1))
        self.cout, self.shortcut = cout, shortcut

    def forward(self, x):
        return self.conv(x) + (down_shortcut(x, self.cout) if self.shortcut else 0)


class _Up(nn.Module):
    def __init__(self, cin: int, cout: int, shortcut: bool):
        super().__init__()
        self.conv = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv1d(cin, cout, 3, padding=1), nn.GELU(), nn.Conv1d(cout, cout, 3, padding=1))
        self.cout, self.shortcut = cout, shortcut

    def forward(self, x):
        return self.conv(x) + (up_shortcut(x, self.cout) if self.shortcut else 0)


class DCAE(nn.Module):
    """Deep-compression AE in 1-D: residual down blocks (space-to-channel + channel averaging
    shortcut), a latent projection with the same shortcut (channel averaging), and
    mirrored up blocks (channel duplication + channel-to-space)."""

    def __init__(self, config: DCAEConfig):
        super().__init__()
        self.config = config
        ch, sc = config.channels, config.shortcuts
        self.stem = nn.Conv1d(1, ch[0] // 2, 3, padding=1)
        widths = [ch[0] // 2, *ch]
        self.down = nn.ModuleList(_Down(widths[i], widths[i + 1], sc) for i in range(len(ch)))
        self.to_latent = nn.Conv1d(ch[-1], config.latent_channels, 3, padding=1)
        self.from_latent = nn.Conv1d(config.latent_channels, ch[-1], 3, padding=1)
        self.up = nn.ModuleList(_Up(widths[i + 1], widths[i], sc) for i in reversed(range(len(ch))))
        self.head = nn.Conv1d(widths[0], 1, 3, padding=1)

    def _group_mean(self, h: torch.Tensor, out: int) -> torch.Tensor:
        b, c, n = h.shape
        return h.reshape(b, out, c // out, n).mean(dim=2)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem((x / _normaliser(self.config, x)).unsqueeze(1))
        for d in self.down:
            h = d(h)
        z = self.to_latent(h)
        return z + self._group_mean(h, self.config.latent_channels) if self.config.shortcuts else z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(z)
        if self.config.shortcuts:
            h = h + z.repeat_interleave(self.config.channels[-1] // self.config.latent_channels, dim=1)
        for u in self.up:
            h = u(h)
        return self.head(h).squeeze(1)

    def forward(self, x: torch.Tensor) -> AEOutput:
        scale = _normaliser(self.config, x)
        z = self.encode(x)
        return AEOutput(recon=self.decode(z) * scale, latent=z.flatten(1))


class CAEBackbone(nn.Module):
    """The paper's noise-predicting CAE under the common contract: recon = x − ê."""

    def __init__(self, config: CAEConfig):
        super().__init__()
        self.config = config
        self.net = NoiseCAE(config)

    def forward(self, x: torch.Tensor) -> AEOutput:
        noise = self.net(x)
        return AEOutput(recon=x - noise, latent=noise, noise=noise)


#: name → (config class, model class, default objective). Explicit on purpose.
REGISTRY: dict[str, tuple[type, type, str]] = {
    "linear": (MLPConfig, MLPAutoencoder, "reconstruct"),
    "ae": (MLPConfig, MLPAutoencoder, "reconstruct"),
    "dae": (MLPConfig, MLPAutoencoder, "denoise"),
    "vae": (MLPConfig, VAE, "vae"),
    "cae": (CAEConfig, CAEBackbone, "noise"),
    "dcae": (DCAEConfig, DCAE, "reconstruct"),
}


def build(name: str, **overrides) -> nn.Module:
    """A backbone by name; ``overrides`` are config fields (unknown ones rejected)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown backbone {name!r}; valid: {', '.join(REGISTRY)}")
    cfg_cls, model_cls, _ = REGISTRY[name]
    if name == "linear":
        overrides = {"hidden": (), **overrides}
        if overrides["hidden"]:
            raise ValueError("the linear backbone has no hidden layers")
    cfg = cfg_cls.from_dict({**cfg_cls().to_dict(), **overrides}) if overrides else cfg_cls()
    return model_cls(cfg)
