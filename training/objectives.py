"""Training objectives, kept apart from the backbones so one backbone serves several.

Each objective is ``loss(model, noisy, clean, noise) -> scalar``; every term is measured in
units of the per-sweep RMS of the input, so all sweeps count alike whatever their level.

- ``reconstruct`` (AE): recon ≈ the input itself (the sweeps as measured);
- ``denoise`` (DAE): recon of the noisy input ≈ the clean sweep;
- ``noise`` (the paper's CAE): predicted noise ≈ noisy − clean (the same optimum as
  ``denoise``, since recon = x − ê; the CAE's noise_gain rescales it to O(1));
- ``vae``: ½·MSE(recon, input) + β·KL(q(z|x) ‖ N(0, I)), the KL summed over latent
  dimensions and averaged over the batch, the MSE summed over samples.
"""

from __future__ import annotations

import torch

OBJECTIVES = ("reconstruct", "denoise", "noise", "vae")


def _rms(x: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(torch.mean(x * x, dim=1, keepdim=True)).clamp_min(1e-12)


def loss(objective: str, model, noisy: torch.Tensor, clean: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    if objective == "noise":
        gain = getattr(model.config, "noise_gain", 1.0) / _rms(noisy)
        predicted = model(noisy)
        predicted = predicted.noise if hasattr(predicted, "noise") else predicted
        return torch.mean(((predicted - noise) * gain) ** 2)
    if objective == "reconstruct":
        out = model(noisy)
        return torch.mean(((out.recon - noisy) / _rms(noisy)) ** 2)
    if objective == "denoise":
        out = model(noisy)
        return torch.mean(((out.recon - clean) / _rms(noisy)) ** 2)
    out = model(noisy)  # vae
    mse = torch.sum(((out.recon - noisy) / _rms(noisy)) ** 2, dim=1)
    kl = -0.5 * torch.sum(1 + out.logvar - out.mean**2 - torch.exp(out.logvar), dim=1)
    return torch.mean(0.5 * mse + model.config.beta * kl)
