"""The preview grid: per defect, original | defective | mask, zoomed on the defect."""

from __future__ import annotations

import cv2
import numpy as np

TILE = (200, 140)  # width, height of one panel


def _zoom(img: np.ndarray, cx: int, cy: int, half: tuple[int, int]) -> np.ndarray:
    H, W = img.shape[:2]
    hw, hh = half
    x0 = int(np.clip(cx - hw, 0, max(0, W - 2 * hw)))
    y0 = int(np.clip(cy - hh, 0, max(0, H - 2 * hh)))
    crop = img[y0 : y0 + 2 * hh, x0 : x0 + 2 * hw]
    return cv2.resize(crop, TILE, interpolation=cv2.INTER_NEAREST)


def preview_grid(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]]) -> np.ndarray:
    """One row per (original, defective, mask, label): three zoomed panels, the
    defect's outline in the third. Returns (rows * h, 3 * w, 3) uint8 BGR."""
    out = []
    for orig, bad, mask, label in rows:
        ys, xs = np.nonzero(mask)
        cx, cy = int(xs.mean()), int(ys.mean())
        span = max(int(np.ptp(xs)), int(1.43 * np.ptp(ys)), 40)
        half = (
            min(orig.shape[1] // 2, int(0.8 * span)),
            min(orig.shape[0] // 2, int(0.8 * span / 1.43)),
        )
        m3 = cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR)
        panels = [_zoom(orig, cx, cy, half), _zoom(bad, cx, cy, half), _zoom(m3, cx, cy, half)]
        cv2.putText(
            panels[0], label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA
        )
        cv2.putText(
            panels[0],
            label,
            (6, 18),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.55,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        row = np.hstack([np.pad(p, ((2, 2), (2, 2), (0, 0)), constant_values=255) for p in panels])
        out.append(row)
    return np.vstack(out)
