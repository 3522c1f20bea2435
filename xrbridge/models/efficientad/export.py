"""The raw EfficientAD inference module that goes into the ONNX graph, and its int8 variant.

``EfficientADRaw`` is what :func:`xrbridge.models.framework.train` wraps into
the contract graph (score normalisation + ROI mask, ``exporting.ContractGraph``):
(1, 3, H, W) normalised image -> fused map (teacher, student and autoencoder,
quantile-normalised maps averaged, see ``anomaly_map``), Gaussian-smoothed,
and the image score = the map's maximum (inside the ROI when there is one).

The int8 variant is written by the shared :mod:`xrbridge.models.quantize`
(``quantize_artifact`` stays importable from here).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from xrbridge.models.efficientad import anomaly_map as amap
from xrbridge.models.efficientad.model import EfficientADModel
from xrbridge.models.quantize import quantize_artifact

__all__ = ["EfficientADRaw", "quantize_artifact"]
from xrbridge.models.blur import GaussianBlur

#: Value given to map pixels outside the ROI before taking the image score's maximum.
_OUTSIDE = -1.0e6


class EfficientADRaw(nn.Module):
    """(1, 3, H, W) normalised image -> ((1, 1, H, W) smoothed raw map, (1,) raw score).

    The score is the map's maximum over the pixels the PDN describes (not the
    border ``anomaly_map.to_input_grid`` adds) and inside the ROI when there is one.

    Args:
        model: trained EfficientAD networks with fitted statistics and quantiles.
        sigma: Gaussian smoothing of the map in pixels (> 0).
        roi: (H, W) bool, pixels that count for the image score; None = all.
    """

    valid: torch.Tensor

    def __init__(
        self, model: EfficientADModel, sigma: float, roi: np.ndarray | None = None
    ) -> None:
        super().__init__()
        self.model = model.eval()
        self.blur = GaussianBlur(sigma)
        h, w = model.config.height, model.config.width_px
        valid = np.zeros((h, w), bool)
        bh = int(np.ceil(h * amap.MAP_PAD / (h // 4)))
        bw = int(np.ceil(w * amap.MAP_PAD / (w // 4)))
        valid[bh : h - bh, bw : w - bw] = True
        if roi is not None and (roi.astype(bool) & valid).any():
            valid &= roi.astype(bool)
        self.register_buffer("valid", torch.from_numpy(valid)[None, None])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        amap_ = self.blur(self.model(x))
        ranked = torch.where(self.valid, amap_, torch.full_like(amap_, _OUTSIDE))
        return amap_, torch.amax(ranked.flatten(1), dim=1)
