"""The raw PatchCore inference module that goes into the ONNX graph (one file, bank included)."""

from __future__ import annotations

import torch
from torch import nn

from xrbridge.models.patchcore.anomaly_map import BankScorer


class PatchCoreRaw(nn.Module):
    """(1,3,H,W) normalised input -> ((1,1,H,W) smoothed raw map, (1,) raw score).

    ``features``: :class:`~xrbridge.models.features.PatchFeatures`, or
    :class:`~xrbridge.models.patchcore.tiling.TiledFeatures` around it (tiles).
    """

    def __init__(self, features: nn.Module, scorer: BankScorer) -> None:
        super().__init__()
        self.features = features
        self.scorer = scorer

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.scorer(self.features(x))
