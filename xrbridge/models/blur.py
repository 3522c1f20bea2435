"""Gaussian smoothing of anomaly maps, shared by every model's raw inference module."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def gaussian_kernel1d(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian, radius 4 sigma (as anomalib/scipy do)."""
    radius = max(int(4.0 * sigma + 0.5), 1)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


class GaussianBlur(nn.Module):
    """Separable Gaussian blur of a (B,1,H,W) map with reflect padding."""

    kx: torch.Tensor
    ky: torch.Tensor

    def __init__(self, sigma: float) -> None:
        super().__init__()
        k = gaussian_kernel1d(sigma)
        self.radius = (len(k) - 1) // 2
        self.register_buffer("kx", k.view(1, 1, 1, -1))
        self.register_buffer("ky", k.view(1, 1, -1, 1))

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        r = self.radius
        m = F.conv2d(F.pad(m, (r, r, 0, 0), mode="reflect"), self.kx)
        return F.conv2d(F.pad(m, (0, 0, r, r), mode="reflect"), self.ky)
