"""Locally aware patch features of a frozen backbone (PatchCore and SimpleNet share them).

Feature path for a (1,3,H,W) input: backbone stages (default ``s8`` and
``s16``) -> 3x3 average over each position's neighbourhood (local aggregation,
p = 3) -> every stage resized to the finest stage's grid (h, w) = (H/8, W/8)
-> concatenated (C channels) -> optionally projected to D dims with a fixed
linear map (PatchCore: PCA fitted on the training patches).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xrbridge.models.backbones import STAGE_STRIDES, build_backbone


class PatchFeatures(nn.Module):
    """(B,3,H,W) -> (B,D,h,w) patch features on the grid of the finest stage."""

    def __init__(self, backbone: str, layers: tuple[str, ...], pretrained: bool = True) -> None:
        super().__init__()
        self.layers = tuple(sorted(layers, key=lambda s: STAGE_STRIDES[s]))
        self.backbone = build_backbone(backbone, stages=self.layers, pretrained=pretrained)
        self.pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.stride = STAGE_STRIDES[self.layers[0]]
        # Projection (C -> D) as a 1x1 conv; identity until fitted.
        self.proj: nn.Conv2d | None = None

    def raw_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B,C,h,w) aggregated, concatenated stage features (no projection)."""
        feats = self.backbone(x)
        grid = feats[self.layers[0]].shape[-2:]
        out = []
        for name in self.layers:
            f = self.pool(feats[name])
            if f.shape[-2:] != grid:
                f = F.interpolate(
                    f, size=(int(grid[0]), int(grid[1])), mode="bilinear", align_corners=False
                )
            out.append(f)
        return torch.cat(out, dim=1)

    def set_projection(self, mean: np.ndarray, components: np.ndarray) -> None:
        """Project y = components @ (f - mean); components (D,C), mean (C,)."""
        w = torch.from_numpy(components.astype(np.float32))
        conv = nn.Conv2d(w.shape[1], w.shape[0], 1, bias=True)
        with torch.no_grad():
            conv.weight.copy_(w[:, :, None, None])
            bias = -(w @ torch.from_numpy(mean.astype(np.float32)))
            conv.bias.copy_(bias)  # type: ignore[union-attr]
        conv.requires_grad_(False)
        self.proj = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.raw_features(x)
        return self.proj(f) if self.proj is not None else f
