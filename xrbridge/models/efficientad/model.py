"""EfficientAD networks: PDN teacher/student and the autoencoder (paper section 5.3).

EfficientAD (Batzner et al., WACV 2024) scores an image with three networks
that all see the same (B, 3, H, W) input (here ``(rgb01 - 0.5) / 0.5``):

- the *teacher*, a Patch Description Network (PDN) distilled from a pretrained
  backbone and then frozen; it gives a 384-channel descriptor of every 33x33
  patch;
- the *student*, a PDN of the same shape with twice the output channels: the
  first half imitates the teacher (local, "structural" anomalies), the second
  half imitates the autoencoder (global, "logical" anomalies);
- the *autoencoder*, which squeezes the whole image through a 64-d bottleneck
  and reconstructs the teacher's features.

The PDNs have no padding, so a (B, 3, H, W) input gives (B, C, H/4 - 8, W/4 - 8)
descriptors (56 x 56 at 256 x 256) and the descriptor at (i, j) sees exactly
the input window rows [4i, 4i + 33), columns [4j, 4j + 33). Shifting the input
by a multiple of 4 shifts the output by a quarter of it: training crops the
student's input (``train.py``) without changing what it learns.

Sizes (``PDN_WIDTHS``): PDN-S has 4 convolutions (128/256/256/C channels),
PDN-M 6 (256/512/512/512/C/C); ``width`` scales the hidden channels (1.0 = the
paper; tests use tiny widths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xrbridge.errors import UsageError
from xrbridge.models.efficientad import anomaly_map as amap

#: Hidden widths at width 1.0, as in the paper's PDN-S and PDN-M.
PDN_WIDTHS = {"s": (128, 256, 256), "m": (256, 512, 512)}
#: Output size of the PDNs relative to the input: H/4 - PDN_SHRINK.
PDN_SHRINK = 8
#: Map cells between the backbone target grid (H/4) and the PDN grid (H/4 - 8).
TARGET_OFFSET = 4


@dataclass(frozen=True, slots=True)
class EfficientADConfig:
    """Shape of an EfficientAD model.

    Attributes:
        size: ``"s"`` (PDN-small) or ``"m"`` (PDN-medium).
        channels: teacher descriptor channels (paper: 384); the student has twice this.
        width: multiplier of the PDN hidden widths (1.0 = paper).
        height, width_px: input image size; multiples of 32, at least 64.
        ae_latent: autoencoder bottleneck channels (paper: 64; also its hidden width).
    """

    size: str = "s"
    channels: int = 384
    width: float = 1.0
    height: int = 256
    width_px: int = 256
    ae_latent: int = 64

    def __post_init__(self) -> None:
        if self.size not in PDN_WIDTHS:
            raise UsageError(f"EfficientAD size must be 's' or 'm', got {self.size!r}")
        for side in (self.height, self.width_px):
            if side < 64 or side % 32:
                raise UsageError(
                    f"EfficientAD image size must be a multiple of 32 and >= 64, got "
                    f"{self.height}x{self.width_px}"
                )

    @property
    def map_size(self) -> tuple[int, int]:
        """(h, w) of the PDN/autoencoder output maps."""
        return pdn_output_size(self.height, self.width_px)

    def hidden(self) -> tuple[int, int, int]:
        a, b, c = PDN_WIDTHS[self.size]
        return (_scaled(a, self.width), _scaled(b, self.width), _scaled(c, self.width))


def _scaled(n: int, width: float) -> int:
    return max(4, round(n * width))


def pdn_output_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) of a PDN's output for an (height, width) input: H/4 - 8 (no padding)."""
    return (height // 4 - PDN_SHRINK, width // 4 - PDN_SHRINK)


def build_pdn(size: str, out_channels: int, width: float = 1.0) -> nn.Sequential:
    """A Patch Description Network without padding (33x33 receptive field, stride 4).

    Args:
        size: ``"s"`` or ``"m"``.
        out_channels: descriptor channels of the last layer.
        width: multiplier of the hidden widths.

    Returns:
        module mapping (B, 3, H, W) to (B, out_channels, H/4 - 8, W/4 - 8).
    """
    a, b, c = (_scaled(n, width) for n in PDN_WIDTHS[size])
    relu = nn.ReLU
    if size == "s":
        return nn.Sequential(
            nn.Conv2d(3, a, 4), relu(), nn.AvgPool2d(2, 2),
            nn.Conv2d(a, b, 4), relu(), nn.AvgPool2d(2, 2),
            nn.Conv2d(b, c, 3), relu(),
            nn.Conv2d(c, out_channels, 4),
        )  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(3, a, 4), relu(), nn.AvgPool2d(2, 2),
        nn.Conv2d(a, b, 4), relu(), nn.AvgPool2d(2, 2),
        nn.Conv2d(b, c, 1), relu(),
        nn.Conv2d(c, c, 3), relu(),
        nn.Conv2d(c, out_channels, 4), relu(),
        nn.Conv2d(out_channels, out_channels, 1),
    )  # fmt: skip


class AutoEncoder(nn.Module):
    """EfficientAD's autoencoder: 6 strided convolutions down to a 1x1 code, 8 up.

    Maps (B, 3, H, W) to (B, out_channels, H/4 - 8, W/4 - 8) (the teacher's grid).
    The decoder upsamples bilinearly through the sizes of the paper's reference
    implementation at 256 x 256 (3, 8, 15, 32, 63, 127, then 56), scaled with the
    input for other sizes.
    """

    def __init__(self, out_channels: int, height: int, width: int, latent: int = 64) -> None:
        super().__init__()
        hid = latent
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, hid, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(hid, hid, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(hid, hid, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(hid, latent, (height // 32, width // 32)),
        )  # fmt: skip
        out_h, out_w = pdn_output_size(height, width)
        self.sizes = [_ae_size(height, d, o) for d, o in _AE_STEPS]
        self.sizes_w = [_ae_size(width, d, o) for d, o in _AE_STEPS]
        self.decoder_convs = nn.ModuleList(
            [nn.Conv2d(latent if i == 0 else hid, hid, 4, padding=2) for i in range(6)]
        )
        self.out_size = (out_h, out_w)
        self.head = nn.Sequential(
            nn.Conv2d(hid, hid, 3, padding=1), nn.ReLU(), nn.Conv2d(hid, out_channels, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, C, H/4 - 8, W/4 - 8)."""
        z = self.encoder(x)
        for conv, sh, sw in zip(self.decoder_convs, self.sizes, self.sizes_w, strict=True):
            z = nn.functional.interpolate(z, size=(sh, sw), mode="bilinear", align_corners=False)
            z = torch.relu(conv(z))
        z = nn.functional.interpolate(z, size=self.out_size, mode="bilinear", align_corners=False)
        return self.head(z)


#: Decoder upsampling steps as (divisor, offset): size = side / divisor + offset.
_AE_STEPS = ((64, -1), (32, 0), (16, -1), (8, 0), (4, -1), (2, -1))


def _ae_size(side: int, divisor: int, offset: int) -> int:
    return max(1, side // divisor + offset)


class EfficientADModel(nn.Module):
    """Teacher, student and autoencoder plus the statistics fitted in training.

    Buffers:
        teacher_mean, teacher_std: (1, C, 1, 1) per-channel statistics of the
            teacher's output on the training images (targets are standardised).
        q_st, q_ae: (2,) the 0.9 and 0.995 quantiles of the student-teacher and
            autoencoder-student maps on held-out good images (map normalisation).
    """

    teacher_mean: torch.Tensor
    teacher_std: torch.Tensor
    q_st: torch.Tensor
    q_ae: torch.Tensor

    def __init__(self, config: EfficientADConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.teacher: nn.Module = build_pdn(config.size, c, config.width)
        self.student = build_pdn(config.size, 2 * c, config.width)
        self.autoencoder = AutoEncoder(c, config.height, config.width_px, config.ae_latent)
        self.register_buffer("teacher_mean", torch.zeros(1, c, 1, 1))
        self.register_buffer("teacher_std", torch.ones(1, c, 1, 1))
        self.register_buffer("q_st", torch.tensor([0.0, 1.0]))
        self.register_buffer("q_ae", torch.tensor([0.0, 1.0]))

    def teacher_features(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> standardised teacher descriptors (B, C, h, w)."""
        return (self.teacher(image) - self.teacher_mean) / self.teacher_std

    def raw_maps(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Un-normalised student-teacher and autoencoder-student maps, each (B, 1, h, w)."""
        c = self.config.channels
        t = self.teacher_features(image)
        s = self.student(image)
        ae = self.autoencoder(image)
        return amap.st_map(t, s[:, :c]), amap.ae_map(ae, s[:, c:])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised image -> fused raw anomaly map (B, 1, H, W) float32.

        The two maps are quantile-normalised (``q_st``, ``q_ae``), averaged, padded
        back to the input grid and resized bilinearly to (H, W): 0 is "typical for a
        good image" (0.9 quantile), 0.1 the 0.995 quantile of good pixels.
        """
        map_st, map_ae = self.raw_maps(image)
        fused = amap.fuse(
            amap.quantile_normalise(map_st, self.q_st), amap.quantile_normalise(map_ae, self.q_ae)
        )
        return amap.to_input_grid(fused, (image.shape[-2], image.shape[-1]))


class DistillTarget(nn.Module):
    """Backbone patch features the teacher is distilled to, (B, C, H/4, W/4).

    Args:
        backbone: module mapping a (B, 3, 2H, 2W) normalised image to a dict with
            ``"s8"`` and ``"s16"`` feature maps (``xrbridge.models.backbones``).
        channels: output channels (the teacher's, 384).
    """

    def __init__(self, backbone: nn.Module, channels: int) -> None:
        super().__init__()
        self.backbone = backbone.eval()
        self.channels = channels
        self.proj: torch.Tensor | None = None
        self.mean: torch.Tensor | None = None
        self.scale = 1.0

    @torch.no_grad()
    def neighbourhoods(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> stacked 3x3 neighbourhoods of s8 + s16 features (B, D, H/4, W/4)."""
        big = F.interpolate(image, scale_factor=2.0, mode="bilinear", align_corners=False)
        feats = self.backbone(big)
        s8 = feats["s8"]
        s16 = F.interpolate(feats["s16"], size=s8.shape[-2:], mode="bilinear", align_corners=False)
        cat = torch.cat([s8, s16], dim=1)
        b, c, h, w = cat.shape
        return F.unfold(cat, 3, padding=1).view(b, c * 9, h, w)

    @torch.no_grad()
    def fit(
        self,
        images: torch.Tensor,
        rng: np.random.Generator,
        samples: int = 8000,
        max_images: int = 32,
    ) -> float:
        """Fit the PCA projection on (N, 3, H, W) images; returns the explained variance share.

        Uses ``samples`` positions drawn from at most ``max_images`` images (enough
        for a 1,368 x 1,368 covariance; more only costs time).
        """
        pick = np.sort(rng.permutation(len(images))[:max_images])
        per_image = max(1, samples // len(pick))
        rows = []
        for i in pick:
            u = self.neighbourhoods(images[int(i) : int(i) + 1])[0].flatten(1).T  # (hw, D)
            idx = torch.from_numpy(
                rng.choice(u.shape[0], min(per_image, u.shape[0]), replace=False)
            )
            rows.append(u[idx])
        data = torch.cat(rows)
        if data.shape[1] < self.channels:
            raise ValueError(
                f"backbone gives {data.shape[1]} neighbourhood features, fewer than the "
                f"{self.channels} teacher channels"
            )
        mean = data.mean(0)
        centred = data - mean
        cov = (centred.T @ centred).double() / max(1, len(data) - 1)
        evals, evecs = torch.linalg.eigh(cov)
        order = torch.argsort(evals, descending=True)[: self.channels]
        kept = evals[order].clamp_min(0)
        self.mean = mean
        self.proj = evecs[:, order].float()
        # one global scale (not per channel): the distillation loss weighs components by variance
        self.scale = float(torch.sqrt(kept.mean()))
        return float(kept.sum() / evals.clamp_min(0).sum())

    @torch.no_grad()
    def forward(
        self, image: torch.Tensor, window: tuple[int, int, int, int] | None = None
    ) -> torch.Tensor:
        """(B, 3, H, W) normalised image -> (B, channels, H/4, W/4) target features.

        ``window`` = (top, left, height, width) in target cells restricts the
        (costly) projection to that window; the output is then (B, channels, height, width).
        """
        if self.proj is None or self.mean is None:
            raise RuntimeError("DistillTarget.fit must run before forward")
        u = self.neighbourhoods(image)
        if window is not None:
            top, left, wh, ww = window
            u = u[:, :, top : top + wh, left : left + ww]
        centred = u - self.mean.view(1, -1, 1, 1)
        return torch.einsum("bdhw,dc->bchw", centred, self.proj) / self.scale


class BackboneTeacher(nn.Module):
    """The distillation target itself as the teacher: pretrained features, no PDN.

    Output as a PDN teacher's, (B, C, H/4 - 8, W/4 - 8): the fitted
    :class:`DistillTarget` on the PDN's grid. The target's PCA of 3x3
    neighbourhoods is a 3x3 convolution (weights: the projection; bias: minus the
    projected mean; both divided by the target's scale), so this exports to ONNX
    as plain convolutions.

    Why it exists: a PDN distilled for minutes on the category's own images (no
    ImageNet here) is a function the student, a PDN too, imitates everywhere,
    anomalies included; the student-teacher map then carries no anomaly signal
    (docs/models.md, "EfficientAD at its defaults"). The backbone's features are
    what the student cannot imitate off the training distribution.
    """

    weight: torch.Tensor
    bias: torch.Tensor

    def __init__(self, target: DistillTarget) -> None:
        super().__init__()
        if target.proj is None or target.mean is None:
            raise RuntimeError("DistillTarget.fit must run before BackboneTeacher")
        self.backbone = target.backbone.eval()
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        d, c = target.proj.shape
        weight = (target.proj.T / target.scale).reshape(c, d // 9, 3, 3)
        bias = -(target.mean @ target.proj) / target.scale
        self.register_buffer("weight", weight.contiguous().float())
        self.register_buffer("bias", bias.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        big = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        feats = self.backbone(big)
        s8 = feats["s8"]
        s16 = F.interpolate(feats["s16"], size=s8.shape[-2:], mode="bilinear", align_corners=False)
        out = F.conv2d(torch.cat([s8, s16], dim=1), self.weight, self.bias, padding=1)
        hm, wm = pdn_output_size(x.shape[-2], x.shape[-1])
        return out[:, :, TARGET_OFFSET : TARGET_OFFSET + hm, TARGET_OFFSET : TARGET_OFFSET + wm]
