"""SimpleNet's torch modules: feature adapter, discriminator, and the raw inference module.

Seed paper section 5.4 and the SimpleNet paper (Liu et al., CVPR 2023), adapted
to the EfficientNet-Lite backbones: the locally aware features PatchCore uses
(stages s8 + s16, 3x3 average, s16 upsampled to the s8 grid, concatenated: C =
152 for Lite0) are optionally standardised per channel and scaled by
1/sqrt(C), so that a patch's mean squared distance to the mean patch is 1 (a
fixed affine map learnt from the training patches: the anomaly noise's std,
0.03 per channel by default, then means the same on every backbone, about 37 % of
the spread of normal patches for Lite0; the paper's 0.015 is 19 %), mapped by a bias-free linear adapter (C -> C), and
scored by a two-layer MLP discriminator (C -> hidden, BatchNorm, LeakyReLU 0.2,
-> 1). The anomaly score of a patch is ``-D(adapter(f))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from xrbridge.models.blur import GaussianBlur
from xrbridge.models.features import PatchFeatures


class Discriminator(nn.Module):
    """(N, C) adapted features -> (N,) logits, high = normal."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2))
        self.tail = nn.Linear(hidden, 1, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(q))[:, 0]


class SimpleNetHead(nn.Module):
    """(N, C) raw patch features -> (N, C) adapted features (standardise, bias-free linear)."""

    mean: torch.Tensor
    inv_std: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("inv_std", torch.ones(dim))
        self.adapter = nn.Linear(dim, dim, bias=False)
        nn.init.xavier_normal_(self.adapter.weight)

    def set_standardisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.inv_std.copy_(1.0 / std.clamp_min(1e-6))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.adapter((f - self.mean) * self.inv_std)


class SimpleNetRaw(nn.Module):
    """(1,3,H,W) normalised image -> ((1,1,H,W) smoothed raw map, (1,) raw score).

    The map is the patch scores upsampled bilinearly and blurred; the image score
    is the mean of the ``topk`` highest pixels of that map inside the ROI (``valid``:
    (H, W)); :func:`score_pixels` turns the ``image_pool`` option into that count
    (default: 1 % of the ROI's pixels). On mpdd_metal_plate (seed 2, lr 1e-3) the
    maximum of the raw patch grid gave image AUROC 0.846, that of the smoothed map
    1.000 (docs/models.md).
    """

    valid: torch.Tensor

    def __init__(
        self,
        features: PatchFeatures,
        head: SimpleNetHead,
        disc: Discriminator,
        out_hw: tuple[int, int],
        sigma: float,
        valid: torch.Tensor | None,
        topk: int = 1,
    ) -> None:
        super().__init__()
        self.features, self.head, self.disc = features, head, disc
        self.out_hw = (int(out_hw[0]), int(out_hw[1]))
        self.blur = GaussianBlur(sigma)
        self.topk = max(1, int(topk))
        self.has_valid = valid is not None
        if valid is not None:
            self.register_buffer("valid", valid.float().reshape(-1))

    def patch_scores(self, x: torch.Tensor) -> torch.Tensor:
        """(1,3,H,W) -> (1,1,h,w) patch anomaly scores (-discriminator logit)."""
        f = self.features.raw_features(x)
        h, w = int(f.shape[-2]), int(f.shape[-1])
        q = f.reshape(f.shape[1], h * w).t()
        return (-self.disc(self.head(q))).reshape(1, 1, h, w)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.patch_scores(x)
        amap = self.blur(F.interpolate(s, size=self.out_hw, mode="bilinear", align_corners=False))
        flat = amap.reshape(-1)  # the smoothed map: one noisy patch does not decide the image
        if self.has_valid:  # outside the ROI: far below any real score
            flat = flat * self.valid + (self.valid - 1.0) * 1e4
        k = min(self.topk, int(flat.shape[0]))
        score = torch.topk(flat, k, dim=0).values.mean(0, keepdim=True)
        return amap, score


def score_pixels(image_pool: str, n_pixels: int, top_share: float, topk: int) -> int:
    """Pixels averaged by the image score: ``max`` 1, ``topk`` ``topk``, ``top-share``
    ``top_share`` of ``n_pixels`` (the ROI's, or the whole map's), at least 1.

    A share rather than a count keeps the score's meaning at every input size: at
    256 x 256 1 % is 655 pixels, about the area of one blurred patch of the s8 grid
    (sigma 4), so one noisy patch weighs less than in the maximum, while a defect of
    that size still decides the score.
    """
    if image_pool == "max":
        return 1
    if image_pool == "topk":
        return max(1, min(int(topk), n_pixels))
    return max(1, min(round(top_share * n_pixels), n_pixels))
