"""Generated MVTec-layout data for the model tests (tiny, deterministic, no files from outside)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def texture(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A good part: smooth stripes + mild noise, (size,size,3) uint8 BGR."""
    _y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    base = 120 + 40 * np.sin(x / 3.0) + rng.normal(0, 3, (size, size))
    img = np.clip(base, 0, 255).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def defect(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Paint a dark blob; returns (image, mask uint8 0/255)."""
    size = img.shape[0]
    cx, cy = (int(v) for v in rng.integers(size // 4, 3 * size // 4, 2))
    out = img.copy()
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.circle(out, (cx, cy), size // 10, (10, 200, 10), -1)
    cv2.circle(mask, (cx, cy), size // 10, 255, -1)
    return out, mask


def make_category(
    root: Path,
    n_train: int = 10,
    n_good: int = 3,
    n_bad: int = 3,
    size: int = 64,
    seed: int = 0,
    roi: bool = False,
) -> Path:
    """Write a category in the MVTec layout under ``root``; returns its folder."""
    rng = np.random.default_rng(seed)
    cat = root / "gen"
    for d in ("train/good", "test/good", "test/blob", "ground_truth/blob"):
        (cat / d).mkdir(parents=True, exist_ok=True)
    for i in range(n_train):
        cv2.imwrite(str(cat / "train/good" / f"{i:03d}.png"), texture(rng, size))
    for i in range(n_good):
        cv2.imwrite(str(cat / "test/good" / f"{i:03d}.png"), texture(rng, size))
    for i in range(n_bad):
        img, mask = defect(texture(rng, size), rng)
        cv2.imwrite(str(cat / "test/blob" / f"{i:03d}.png"), img)
        cv2.imwrite(str(cat / "ground_truth/blob" / f"{i:03d}_mask.png"), mask)
    if roi:
        m = np.zeros((size, size), np.uint8)
        m[:, : size // 2] = 255
        cv2.imwrite(str(cat / "roi.png"), m)
    return cat
