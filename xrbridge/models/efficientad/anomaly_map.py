"""EfficientAD anomaly maps: the two discrepancy maps, their normalisation and fusion.

All functions are pure tensor code that exports to ONNX as it is.

- ``st_map``: mean over channels of (teacher - student)^2: local ("structural")
  anomalies, where the student fails to imitate the teacher.
- ``ae_map``: mean over channels of (autoencoder - student)^2: global
  ("logical") anomalies, where the autoencoder's reconstruction and the
  student's prediction of it disagree.
- ``quantile_normalise``: maps the 0.9 quantile of good pixels to 0 and the
  0.995 quantile to 0.1, so that both maps speak the same units before they are
  averaged (``fuse``).
- ``to_input_grid``: pads the (h, w) = (H/4 - 8, W/4 - 8) map by 4 map pixels (edge values)
  (the PDN has no padding: map pixel (i, j) describes the input window centred
  at (4i + 16, 4j + 16)) and resizes it bilinearly to (H, W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Quantiles of good pixels used for the map normalisation (paper: 0.9 and 0.995).
Q_START = 0.9
Q_END = 0.995
#: Value a normalised map takes at the Q_END quantile of good pixels.
Q_SCALE = 0.1
#: Map pixels added on each side before resizing to the input grid.
MAP_PAD = 4


def st_map(teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """Student-teacher map: (B, C, h, w) x2 -> (B, 1, h, w), mean squared difference."""
    return torch.mean((teacher - student) ** 2, dim=1, keepdim=True)


def ae_map(autoencoder: torch.Tensor, student_ae: torch.Tensor) -> torch.Tensor:
    """Autoencoder-student map: (B, C, h, w) x2 -> (B, 1, h, w), mean squared difference."""
    return torch.mean((autoencoder - student_ae) ** 2, dim=1, keepdim=True)


def quantile_normalise(amap: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Linear map sending ``q[0]`` to 0 and ``q[1]`` to ``Q_SCALE``.

    Args:
        amap: (B, 1, h, w) raw map.
        q: (2,) the Q_START and Q_END quantiles of the same map on good images.
    """
    return Q_SCALE * (amap - q[0]) / (q[1] - q[0])


def fuse(map_st: torch.Tensor, map_ae: torch.Tensor) -> torch.Tensor:
    """Average of the two normalised maps (the paper's fusion), (B, 1, h, w)."""
    return 0.5 * map_st + 0.5 * map_ae


def to_input_grid(amap: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, 1, h, w) map on the PDN grid -> (B, 1, H, W) on the input grid.

    Pads by repeating the edge (the reference pads with 0, the 0.9 quantile of good
    pixels, which ranks the undescribed border above 90 % of the described pixels
    and above the defects of a partly trained model) and resizes bilinearly.
    """
    padded = F.pad(amap, (MAP_PAD, MAP_PAD, MAP_PAD, MAP_PAD), mode="replicate")
    return F.interpolate(padded, size=size, mode="bilinear", align_corners=False)


def map_quantiles(maps: torch.Tensor) -> torch.Tensor:
    """(Q_START, Q_END) quantiles of all pixels of ``maps`` (any shape) -> (2,) float32.

    Uses a sort instead of ``torch.quantile``, which refuses inputs above 16M elements.
    """
    flat = maps.detach().reshape(-1).float().sort().values
    n = flat.numel()
    out = []
    for q in (Q_START, Q_END):
        pos = q * (n - 1)
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        frac = pos - lo
        out.append(flat[lo] * (1 - frac) + flat[hi] * frac)
    return torch.stack(out)
