"""ROI binary masks on the sealant paths (paper section 4.4), no I/O.

A mask is (h, w) uint8 with 255 = analysed (sealant path + margin) and 0 =
ignored, in the pixel grid of a view's template (= an extracted crop). The
margin absorbs misalignment between the car and the template (match error,
vibration, a bead applied slightly off its path): raising it keeps more
context and tolerates larger shifts, lowering it removes more background
(fewer false positives) but risks cutting off a misaligned bead, which is
itself a defect to find.

The same function, :func:`apply_roi`, masks images at training and at
inference, so both see identical inputs. :func:`roi_in_frame` places a
template-grid mask into a frame at a match position (for drawing, or for
masking a heatmap computed on the full frame).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from xrbridge.errors import ImageError, InputError


def roi_from_paths(
    size_wh: tuple[int, int],
    polylines: Sequence[np.ndarray],
    bead_widths: Sequence[float] | float,
    margin: float,
) -> np.ndarray:
    """Draw the sealant paths, widened by ``margin`` px on each side.

    Args:
        size_wh: (w, h) of the template grid.
        polylines: each (N, 2) float, points (x, y) in template px.
        bead_widths: bead width in px, one per polyline or one for all.
        margin: px added on each side of every bead (>= 0).
    Returns:
        (h, w) uint8 mask in {0, 255}.
    Raises:
        InputError: negative margin, bad polyline shape, widths count mismatch.
    """
    if margin < 0:
        raise InputError(f"ROI margin must be >= 0 px, got {margin}")
    w, h = size_wh
    if isinstance(bead_widths, (int, float, np.integer, np.floating)):
        widths = [float(bead_widths)] * len(polylines)
    else:
        widths = [float(b) for b in bead_widths]
    if len(widths) != len(polylines):
        raise InputError(
            f"expected one bead width per polyline ({len(polylines)}), got {len(widths)}"
        )
    mask = np.zeros((h, w), np.uint8)
    shift = 4  # sub-pixel drawing: coordinates in 1/16 px
    for pts, bw in zip(polylines, widths, strict=True):
        p = np.asarray(pts, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2 or len(p) < 1:
            raise InputError(f"polyline must be (N, 2) with N >= 1, got {p.shape}")
        thick = max(1, round(bw + 2 * margin))
        q = np.round(p * (1 << shift)).astype(np.int32)
        if len(q) == 1:
            cv2.circle(
                mask,
                tuple(int(v) for v in q[0]),
                max(1, round(thick / 2)) << shift,
                255,
                -1,
                cv2.LINE_8,
                shift,
            )
        else:
            cv2.polylines(mask, [q.reshape(-1, 1, 2)], False, 255, thick, cv2.LINE_8, shift)
    return mask


def roi_for_view(
    view_meta: Mapping[str, float],
    regions: Sequence[Mapping[str, object]],
    margin: float,
) -> np.ndarray:
    """ROI mask of one view from underbody-px sealant regions (simulator's scene.json).

    Args:
        view_meta: {"u0", "v0", "width", "height"} (templates/views.json entry).
        regions: [{"polyline_ub": [[u, v], ...], "bead_width": px}, ...].
        margin: px on each side of a bead.
    Returns:
        (height, width) uint8 mask in {0, 255} in the template grid.
    """
    u0, v0 = float(view_meta["u0"]), float(view_meta["v0"])
    lines, widths = [], []
    for reg in regions:
        pts = np.asarray(reg["polyline_ub"], dtype=np.float64) - [u0, v0]
        lines.append(pts)
        widths.append(float(reg["bead_width"]))  # type: ignore[arg-type]
    return roi_from_paths(
        (int(view_meta["width"]), int(view_meta["height"])), lines, widths, margin
    )


def widen(mask: np.ndarray, margin: int) -> np.ndarray:
    """Grow an existing binary mask by ``margin`` px (elliptic dilation). (h, w) -> (h, w) uint8."""
    if margin < 0:
        raise InputError(f"ROI margin must be >= 0 px, got {margin}")
    m = np.where(mask > 0, 255, 0).astype(np.uint8)
    if margin == 0:
        return m
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    return cv2.dilate(m, k)


def apply_roi(image: np.ndarray, mask: np.ndarray, fill: int = 0) -> np.ndarray:
    """Keep the ROI, set everything else to ``fill``. Used at training AND inference.

    Args:
        image: (h, w) or (h, w, C) array, any dtype.
        mask: (h', w') uint8, >0 = kept. Resized (nearest) to (h, w) if needed,
            so a mask in the template grid also serves a resized model input.
    Returns:
        A new array like ``image``.
    Raises:
        ImageError: mask not 2-D.
    """
    if mask.ndim != 2:
        raise ImageError(f"ROI mask must be (h, w), got {mask.shape}")
    h, w = image.shape[:2]
    if mask.shape != (h, w):
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    keep = mask > 0
    out = np.full_like(image, fill)
    out[keep] = image[keep]
    return out


def roi_in_frame(mask: np.ndarray, x: float, y: float, frame_wh: tuple[int, int]) -> np.ndarray:
    """Place a template-grid mask with its top-left at (x, y) into a frame.

    Args:
        mask: (h, w) uint8 template-grid mask.
        x, y: template top-left in frame px (a ViewMatch's x, y; rounded).
        frame_wh: (W, H).
    Returns:
        (H, W) uint8 mask; parts outside the frame are dropped.
    """
    fw, fh = frame_wh
    out = np.zeros((fh, fw), np.uint8)
    h, w = mask.shape
    x0, y0 = round(x), round(y)
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(fw, x0 + w), min(fh, y0 + h)
    if fx1 > fx0 and fy1 > fy0:
        out[fy0:fy1, fx0:fx1] = mask[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    return out
