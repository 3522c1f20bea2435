"""MemSeg's torch modules (seed paper section 5.2; Yang et al., 2023), on a Lite backbone.

For a (B,3,H,W) input:

1. Encoder: the frozen EfficientNet-Lite stages s4, s8, s16 (the reference: ResNet18
   layer1-3). Frozen weights keep the memory's features valid while training and
   make a step cheap on a CPU.
2. Memory module: the same features of ``memory_images`` good images (buffers).
   Each input picks the memory image at the least summed L2 distance over the three
   levels; the difference features are D_l = (f_l - m_l)^2 and the level's input to
   the fusion is [f_l, D_l] (channel concatenation).
3. Spatial attention: A_3 = mean_c(D_3) / k_3, A_l = mean_c(D_l) / k_l * up(A_{l+1})
   (k_l: the level's mean on the good training images, so a good image gives ~1).
4. Multi-scale feature fusion: per level a 3x3 conv + coordinate attention, the coarser
   level upsampled and added (top-down), each level weighted by its attention map.
5. U-Net decoder: upsample, concatenate the fused level, conv, down to stride 4 (the
   reference goes on to full resolution; two more stages at 128 and 256 px would double
   the cost of a training step on a CPU), two output channels (normal, anomalous); the
   logits are upsampled bilinearly to H x W and the map is the anomalous channel's
   softmax probability.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from xrbridge.models.backbones import backbone_info, build_backbone
from xrbridge.models.blur import GaussianBlur

LEVELS = ("s4", "s8", "s16")


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


class CoordAttention(nn.Module):
    """Coordinate attention: gates from the features averaged along rows and along columns."""

    def __init__(self, c: int, r: int = 4) -> None:
        super().__init__()
        mid = max(8, c // r)
        self.squeeze = nn.Sequential(nn.Conv2d(c, mid, 1), nn.ReLU())
        self.gate_h = nn.Conv2d(mid, c, 1)
        self.gate_w = nn.Conv2d(mid, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        ph = x.mean(dim=3, keepdim=True)  # (B,C,H,1)
        pw = x.mean(dim=2, keepdim=True).transpose(2, 3)  # (B,C,W,1)
        y = self.squeeze(torch.cat([ph, pw], dim=2))
        yh, yw = y[:, :, :h], y[:, :, h : h + w].transpose(2, 3)
        return x * torch.sigmoid(self.gate_h(yh)) * torch.sigmoid(self.gate_w(yw))


class MemSegNet(nn.Module):
    """Memory + attention + fusion + decoder: (B,3,H,W) -> (B,2,H/4,W/4) logits."""

    mem_s4: torch.Tensor
    mem_s8: torch.Tensor
    mem_s16: torch.Tensor
    att_scale: torch.Tensor

    def __init__(
        self,
        backbone: str,
        memory_images: int,
        height: int,
        width: int,
        widths: tuple[int, int, int] = (32, 48, 64),
    ) -> None:
        super().__init__()
        self.encoder = build_backbone(backbone, stages=LEVELS, pretrained=True)
        self.encoder.requires_grad_(False)
        ch = backbone_info(backbone).channels
        cs = [ch[s] for s in LEVELS]
        for s, c, stride in zip(LEVELS, cs, (4, 8, 16), strict=True):
            self.register_buffer(
                f"mem_{s}", torch.zeros(memory_images, c, height // stride, width // stride)
            )
        self.register_buffer("att_scale", torch.ones(3))
        w4, w8, w16 = widths
        self.fuse = nn.ModuleList([_conv(2 * c, w) for c, w in zip(cs, widths, strict=True)])
        self.ca = nn.ModuleList([CoordAttention(w) for w in widths])
        self.lat16 = nn.Conv2d(w16, w8, 1)
        self.lat8 = nn.Conv2d(w8, w4, 1)
        self.dec16 = _conv(w16, w8)
        self.dec8 = _conv(2 * w8, w4)
        self.dec4 = _conv(2 * w4, 16)
        self.head = nn.Conv2d(16, 2, 3, padding=1)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        self.encoder.eval()
        with torch.no_grad():
            f = self.encoder(x)
        return [f[s] for s in LEVELS]

    def memories(self) -> list[torch.Tensor]:
        return [self.mem_s4, self.mem_s8, self.mem_s16]

    def differences(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """(f - m)^2 per level against the nearest memory image (least summed L2) per input."""
        mems = self.memories()
        total = None
        for f, m in zip(feats, mems, strict=True):
            # ||f||^2 - 2 f.m + ||m||^2 over (C,h,w), as one matrix product per level
            ff, mm = f.flatten(1), m.flatten(1)
            d = (ff * ff).sum(1, keepdim=True) - 2.0 * ff @ mm.t() + (mm * mm).sum(1)[None]
            total = d if total is None else total + d
        assert total is not None
        idx = torch.argmin(total, dim=1)  # (B,)
        return [(f - m.index_select(0, idx)) ** 2 for f, m in zip(feats, mems, strict=True)]

    def attention(self, diffs: list[torch.Tensor]) -> list[torch.Tensor]:
        a16 = diffs[2].mean(1, keepdim=True) / self.att_scale[2]
        a8 = (
            diffs[1].mean(1, keepdim=True)
            / self.att_scale[1]
            * F.interpolate(a16, scale_factor=2.0, mode="bilinear", align_corners=False)
        )
        a4 = (
            diffs[0].mean(1, keepdim=True)
            / self.att_scale[0]
            * F.interpolate(a8, scale_factor=2.0, mode="bilinear", align_corners=False)
        )
        return [a4, a8, a16]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encode(x)
        diffs = self.differences(feats)
        att = self.attention(diffs)
        fused = [
            ca(fu(torch.cat([f, d], dim=1)))
            for f, d, fu, ca in zip(feats, diffs, self.fuse, self.ca, strict=True)
        ]
        up = lambda t: F.interpolate(t, scale_factor=2.0, mode="bilinear", align_corners=False)  # noqa: E731
        f16 = fused[2]
        f8 = fused[1] + up(self.lat16(f16))
        f4 = fused[0] + up(self.lat8(f8))
        f16, f8, f4 = f16 * att[2], f8 * att[1], f4 * att[0]
        y = self.dec16(f16)
        y = self.dec8(torch.cat([up(y), f8], dim=1))
        y = self.dec4(torch.cat([up(y), f4], dim=1))
        return self.head(y)


class MemSegRaw(nn.Module):
    """(1,3,H,W) -> ((1,1,H,W) smoothed anomaly probability, (1,) mean of its top-k pixels in the ROI)."""

    valid: torch.Tensor

    def __init__(
        self,
        net: MemSegNet,
        out_hw: tuple[int, int],
        sigma: float,
        topk: int,
        valid: torch.Tensor | None,
    ) -> None:
        super().__init__()
        self.net = net.eval()
        self.out_hw = (int(out_hw[0]), int(out_hw[1]))
        self.blur = GaussianBlur(sigma)
        self.topk = int(topk)
        self.has_valid = valid is not None
        if valid is not None:
            self.register_buffer("valid", valid.float().reshape(-1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = F.interpolate(self.net(x), size=self.out_hw, mode="bilinear", align_corners=False)
        amap = self.blur(torch.softmax(logits, dim=1)[:, 1:2])
        flat = amap.reshape(-1)
        if self.has_valid:
            flat = flat * self.valid + (self.valid - 1.0) * 1e4
        score = torch.topk(flat, min(self.topk, int(flat.shape[0])), dim=0).values.mean(
            0, keepdim=True
        )
        return amap, score
