"""PatchCore scoring: nearest-neighbour distances to the memory bank, eq. 4 reweighting, map.

For the (P, D) patch features of one image (P = h*w) and the bank (M, D):

- patch score s_p = min_m ||f_p - m|| (matmul form: |f|^2 - 2 f.m^T + |m|^2, one
  (P,D)x(D,M) product: the only search cost, done in the graph);
- image score (eq. 4): take the patch p* with the largest s_p (inside the ROI),
  its nearest bank entry m* and the b = ``k`` entries N_b(m*) nearest to m*
  (m* included, precomputed at training as ``support`` (M, k));
  s = (1 - softmax(||f_p* - m||, m in N_b(m*))[m*]) * s_p*;
- the map: patch scores bilinearly upsampled to (H, W) and Gaussian-smoothed.

Two image-score options beyond the paper (both on by default, see train.py; position
normalisation only with >= 30 held-out images):

- position normalisation: each patch score is turned into a z-score with the
  mean and spread that grid position had on held-out good images
  (``set_position_stats``), so positions that are always a little unusual
  (tile borders, the edge of an ROI) stop dominating the image score; the map
  keeps the raw distances;
- ``image_score="topk"``: the image score is the mean of the ``topk`` highest
  (normalised) patch scores instead of eq. 4 on the single highest one, which
  is steadier when one patch is noisy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from xrbridge.models.blur import GaussianBlur

#: Image-score aggregations: the paper's eq. 4, or the mean of the k highest patch scores.
IMAGE_SCORES = ("eq4", "topk")


class BankScorer(nn.Module):
    """(1,D,h,w) features -> ((1,1,H,W) smoothed raw map, (1,) raw image score)."""

    bank_aug_t: torch.Tensor
    bank: torch.Tensor
    support: torch.Tensor
    patch_valid: torch.Tensor
    pos_mean: torch.Tensor
    pos_scale: torch.Tensor

    def __init__(
        self,
        bank: torch.Tensor,
        support: torch.Tensor,
        out_hw: tuple[int, int],
        sigma: float,
        patch_valid: torch.Tensor | None = None,
        image_score: str = "eq4",
        topk: int = 10,
    ) -> None:
        super().__init__()
        if image_score not in IMAGE_SCORES:
            raise ValueError(f"image_score must be one of {IMAGE_SCORES}, got {image_score!r}")
        self.image_score = image_score
        self.topk = int(topk)
        self.has_pos_norm = False
        # |q-m|^2 = |q|^2 + (-2m . q + |m|^2): the bracket is ONE matmul of [q, 1] with
        # [-2m, |m|^2]^T (D+1, M); |q|^2 is added after the per-row minimum.
        aug = torch.cat([-2.0 * bank, (bank * bank).sum(1, keepdim=True)], dim=1)
        self.register_buffer("bank_aug_t", aug.t().contiguous())  # (D+1, M)
        self.register_buffer("bank", bank.contiguous())  # (M, D)
        self.register_buffer("support", support.long())  # (M, k)
        self.out_hw = (int(out_hw[0]), int(out_hw[1]))
        self.blur = GaussianBlur(sigma)
        self.has_valid = patch_valid is not None
        if patch_valid is not None:
            self.register_buffer("patch_valid", patch_valid.float().reshape(-1))  # (P,)

    def set_position_stats(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        """Per grid position (P,) mean and scale (> 0) of good patch scores: enables z-scoring."""
        self.register_buffer("pos_mean", mean.float().reshape(-1).clone())
        self.register_buffer("pos_scale", scale.float().reshape(-1).clone())
        self.has_pos_norm = True

    def patch_scores(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(1,D,h,w) -> (P,D) features, (P,) distances to the nearest bank entry, (P,) its index."""
        d = feats.shape[1]
        q = feats.reshape(d, -1).t()  # (P, D)
        ones = torch.ones_like(q[:, :1])
        part = torch.cat([q, ones], dim=1) @ self.bank_aug_t  # (P, M)
        idx = torch.argmin(part, dim=1)  # one pass, no ReduceMin
        dmin = part.gather(1, idx[:, None])[:, 0] + (q * q).sum(1)
        return q, torch.sqrt(torch.clamp(dmin, min=0.0)), idx

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = int(feats.shape[-2]), int(feats.shape[-1])
        q, s, idx = self.patch_scores(feats)
        z = (s - self.pos_mean) / self.pos_scale if self.has_pos_norm else s
        if self.has_valid:  # outside the ROI: far below any real score
            z = z * self.patch_valid + (self.patch_valid - 1.0) * 1e4
        if self.image_score == "topk":
            score = torch.topk(z, min(self.topk, int(z.shape[0])), dim=0).values.mean(
                0, keepdim=True
            )
        else:
            p_star = torch.argmax(z, dim=0, keepdim=True)  # (1,)
            s_star = z.gather(0, p_star)  # (1,)
            f_star = q.index_select(0, p_star)  # (1, D)
            m_star = idx.gather(0, p_star)  # (1,)
            nb = self.bank.index_select(
                0, self.support.index_select(0, m_star).reshape(-1)
            )  # (k, D)
            dist = torch.sqrt(torch.clamp(((nb - f_star) ** 2).sum(1), min=0.0))  # (k,)
            weight = 1.0 - torch.softmax(dist, dim=0)[:1]
            score = weight * s_star  # (1,)
        amap = F.interpolate(
            s.reshape(1, 1, h, w), size=self.out_hw, mode="bilinear", align_corners=False
        )
        return self.blur(amap), score
