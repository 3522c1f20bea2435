"""Anomaly map -> regions: threshold, connected components, simplified contours.

No I/O. The map is the model's ``anomaly_map`` output: (H, W) float32 of
normalised scores in [0, 1] where 0.5 is the calibrated pixel threshold
(docs/contracts.md, model artifact). The map covers one view's crop, which sits
in the frame at ``ViewPlacement.x, y`` with the view's template size
``width x height`` (frame px = underbody px, no scale change).

Coordinates of a region:

- frame px (``*_px``): x right, y down;
- view-normalised (``*_uv``): u along the car (0 = the view's front edge),
  v across, both in [0, 1] over the view;
- millimetres (``area_mm2``) when ``RegionConfig.mm_per_px`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from xrbridge.errors import ArtifactError, InputError


@dataclass(frozen=True, slots=True)
class RegionConfig:
    """How a map becomes regions.

    ``threshold``: normalised pixel threshold (the manifest's
    ``thresholds.pixel``, 0.5 by the artifact contract); lowering it finds
    fainter defects and more false regions. ``min_area_px``: smallest region
    kept, in frame px² (drops single-pixel noise; raising it misses pinholes).
    ``max_vertices``: contour budget per region on the wire (approxPolyDP's
    epsilon grows until the polygon fits). ``max_regions``: at most this many
    regions per map, the largest first (bounds the per-frame cost and the
    operator's clutter when a model or the lighting goes wrong).
    ``mm_per_px``: optional scale.
    """

    threshold: float = 0.5
    min_area_px: float = 20.0
    max_vertices: int = 32
    epsilon_frac: float = 0.004
    max_regions: int = 16
    mm_per_px: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise InputError(f"pixel threshold must be in (0, 1), got {self.threshold}")
        if self.max_vertices < 3:
            raise InputError(f"max_vertices must be >= 3, got {self.max_vertices}")


@dataclass(frozen=True, slots=True)
class ViewPlacement:
    """Where a view's crop lies in the frame: top-left (x, y) frame px, size in px."""

    view: str
    x: float
    y: float
    width: int
    height: int

    def uv_to_px(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) view-normalised -> (N, 2) float32 frame px."""
        uv = np.asarray(uv, dtype=np.float32)
        out = np.empty_like(uv)
        out[:, 0] = self.x + uv[:, 0] * self.width
        out[:, 1] = self.y + uv[:, 1] * self.height
        return out


@dataclass(frozen=True, slots=True)
class Region:
    """One connected region of one frame's map (not yet associated over time).

    ``contour_uv``: (N, 2) float32, N <= max_vertices, view-normalised.
    ``contour_px``: the same polygon in frame px.
    """

    view: str
    contour_px: np.ndarray
    contour_uv: np.ndarray
    bbox_px: tuple[float, float, float, float]
    centroid_px: tuple[float, float]
    centroid_uv: tuple[float, float]
    area_px: float
    area_uv: float  # fraction of the view's area
    area_mm2: float | None
    peak_score: float
    mean_score: float


def pixel_threshold(manifest: Mapping[str, Any]) -> float:
    """The normalised pixel threshold of a model manifest (``thresholds.pixel``).

    Raises ArtifactError when the manifest does not carry it: a missing
    threshold must never silently become "no defects".
    """
    th = manifest.get("thresholds")
    if not isinstance(th, Mapping) or "pixel" not in th:
        name = manifest.get("model", "?")
        raise ArtifactError(
            f"manifest of model {name!r} has no thresholds.pixel (got thresholds={th!r})"
        )
    value = th["pixel"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise ArtifactError(f"manifest thresholds.pixel must be a number in (0, 1), got {value!r}")
    return float(value)


def check_map(anomaly_map: Any, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Validate a model map: (H, W) (or (1, 1, H, W)) finite floats. Returns (H, W) float32."""
    a = np.asarray(anomaly_map)
    if a.ndim == 4 and a.shape[:2] == (1, 1):
        a = a[0, 0]
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"anomaly map must be (H, W) float, got {a.shape} {a.dtype}")
    if shape is not None and a.shape != tuple(shape):
        raise InputError(f"anomaly map must be {tuple(shape)}, got {a.shape}")
    if not np.isfinite(a).all():
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise InputError(f"anomaly map has {bad} NaN/inf values of {a.size}")
    return a.astype(np.float32, copy=False)


def simplify_polygon(contour: np.ndarray, max_vertices: int, epsilon_frac: float) -> np.ndarray:
    """A closed contour (N, 1, 2) or (N, 2) simplified to <= ``max_vertices`` points (M, 2) float32.

    approxPolyDP with epsilon = ``epsilon_frac`` of the perimeter (at least 0.5),
    grown by half until the polygon fits the budget.
    """
    perimeter = cv2.arcLength(contour, True)
    eps = max(epsilon_frac * perimeter, 0.5)
    poly = cv2.approxPolyDP(contour, eps, True)
    while len(poly) > max_vertices:
        eps *= 1.5
        poly = cv2.approxPolyDP(contour, eps, True)
    return poly.reshape(-1, 2).astype(np.float32)


def find_regions(
    anomaly_map: np.ndarray,
    placement: ViewPlacement,
    config: RegionConfig,
    roi: np.ndarray | None = None,
) -> list[Region]:
    """Regions of ``anomaly_map`` above ``config.threshold`` inside ``roi``.

    Args:
        anomaly_map: (H, W) float32 normalised scores in [0, 1] for the view's crop.
        placement: where the crop lies in the frame (its size scales map px to frame px).
        config: threshold, minimum area, vertex budget, optional mm scale.
        roi: optional (H, W) mask (nonzero = analysed) at the map's resolution.

    Returns:
        Regions sorted by peak score, highest first.

    Raises:
        InputError: map not (H, W) finite floats, or ROI of another shape.
    """
    shape = None if roi is None else (int(roi.shape[0]), int(roi.shape[1]))
    a = check_map(anomaly_map, shape)
    h, w = a.shape
    binary = (a > config.threshold).astype(np.uint8)
    if roi is not None:
        binary &= (roi > 0).astype(np.uint8)
    rows = np.flatnonzero(binary.any(axis=1))
    if rows.size == 0:
        return []
    cols = np.flatnonzero(binary.any(axis=0))
    # label only the bounding box of the above-threshold pixels: usually a small part
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    n, labels, stats, cents = cv2.connectedComponentsWithStats(
        np.ascontiguousarray(binary[r0:r1, c0:c1]), connectivity=8
    )
    stats[:, cv2.CC_STAT_LEFT] += c0
    stats[:, cv2.CC_STAT_TOP] += r0
    cents += (c0, r0)
    sx, sy = placement.width / w, placement.height / h
    min_area_map = config.min_area_px / (sx * sy)
    keep = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= min_area_map]
    keep = sorted(keep, key=lambda k: -int(stats[k, cv2.CC_STAT_AREA]))[: config.max_regions]
    regions: list[Region] = []
    for k in keep:
        x0, y0, bw, bh, count = (int(v) for v in stats[k])
        lab = labels[y0 - r0 : y0 - r0 + bh, x0 - c0 : x0 - c0 + bw] == k
        # pad by one so contours of regions touching the crop border stay closed
        mask = np.zeros((bh + 2, bw + 2), np.uint8)
        mask[1:-1, 1:-1] = lab
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contour = max(contours, key=cv2.contourArea)
        poly = simplify_polygon(contour, config.max_vertices, config.epsilon_frac)
        # map px (pixel centres) -> view-normalised
        uv = np.empty_like(poly)
        uv[:, 0] = (poly[:, 0] - 1 + x0 + 0.5) / w
        uv[:, 1] = (poly[:, 1] - 1 + y0 + 0.5) / h
        np.clip(uv, 0.0, 1.0, out=uv)
        scores = a[y0 : y0 + bh, x0 : x0 + bw][lab]
        cu = (float(cents[k, 0]) + 0.5) / w
        cv = (float(cents[k, 1]) + 0.5) / h
        area_px = float(count) * sx * sy
        px = placement.uv_to_px(uv)
        regions.append(
            Region(
                view=placement.view,
                contour_px=px,
                contour_uv=uv,
                bbox_px=(placement.x + x0 * sx, placement.y + y0 * sy, bw * sx, bh * sy),
                centroid_px=(
                    placement.x + cu * placement.width,
                    placement.y + cv * placement.height,
                ),
                centroid_uv=(cu, cv),
                area_px=area_px,
                area_uv=float(count) / (h * w),
                area_mm2=None if config.mm_per_px is None else area_px * config.mm_per_px**2,
                peak_score=float(scores.max()),
                mean_score=float(scores.mean()),
            )
        )
    regions.sort(key=lambda r: -r.peak_score)
    return regions
