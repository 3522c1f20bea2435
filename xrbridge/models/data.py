"""Data sets in the MVTec AD layout (docs/contracts.md, "Data sets on disk").

``load_category(path)`` lists the files; ``load_images`` reads and normalises
them. Images of mixed channels (grey, BGR, BGRA, 16-bit) and sizes are
converted and resized; an unreadable image is skipped with a warning that
names it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from xrbridge.errors import DatasetError
from xrbridge.models.preprocess import normalise, resize_mask

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class CorruptImageWarning(UserWarning):
    """An image file could not be decoded and was skipped."""


@dataclass(frozen=True, slots=True)
class TestItem:
    """One test image: its defect type ("good" for none) and mask file (None if absent)."""

    path: Path
    defect: str
    mask: Path | None


@dataclass(frozen=True, slots=True)
class Category:
    """Files of one MVTec-layout category."""

    root: Path
    train: tuple[Path, ...]
    test: tuple[TestItem, ...]
    roi: Path | None


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def load_category(root: str | Path) -> Category:
    """List train/good, test/* (with masks) and roi.png of a category folder.

    Raises:
        DatasetError: folder or train/good missing, or train/good holds no images.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data folder {root} does not exist")
    good = root / "train" / "good"
    if not good.is_dir():
        raise DatasetError(
            f"{root} has no train/good folder (expected the MVTec layout: "
            f"<category>/train/good/*.png)"
        )
    train = _images(good)
    if not train:
        raise DatasetError(f"{good} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    test: list[TestItem] = []
    test_dir = root / "test"
    if test_dir.is_dir():
        for d in sorted(p for p in test_dir.iterdir() if p.is_dir()):
            for img in _images(d):
                mask = None
                if d.name != "good":
                    cand = root / "ground_truth" / d.name / f"{img.stem}_mask.png"
                    mask = cand if cand.is_file() else None
                test.append(TestItem(img, d.name, mask))
    roi = root / "roi.png"
    return Category(root, tuple(train), tuple(test), roi if roi.is_file() else None)


def read_image(path: Path) -> np.ndarray | None:
    """Read any image file unchanged (grey/colour/alpha, 8 or 16 bit); None (+warning) if corrupt."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        warnings.warn(
            f"skipping corrupt or unreadable image {path}", CorruptImageWarning, stacklevel=2
        )
        return None
    return img


def sample_shapes(paths: Sequence[object], sample: int = 24) -> list[tuple[int, int]]:
    """(height, width) of up to ``sample`` readable images spread evenly over ``paths``."""
    step = max(1, len(paths) // sample)
    shapes = []
    for p in list(paths)[::step][:sample]:
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is not None and img.size:
            shapes.append((int(img.shape[0]), int(img.shape[1])))
    return shapes


def load_images(
    paths: Sequence[Path], height: int, width: int, roi: np.ndarray | None = None
) -> tuple[np.ndarray, list[Path]]:
    """Read, convert and normalise images.

    Returns:
        (N,3,height,width) float32 normalised inputs, and the N paths actually read
        (corrupt files skipped with a :class:`CorruptImageWarning`).
    """
    out = np.empty((len(paths), 3, height, width), np.float32)
    kept: list[Path] = []
    for p in paths:
        img = read_image(p)
        if img is None:
            continue
        out[len(kept)] = normalise(img, height, width, roi)
        kept.append(p)
    return out[: len(kept)], kept


def load_mask(item: TestItem, height: int, width: int) -> np.ndarray:
    """(height,width) bool ground truth of a test item (all False for good / no mask)."""
    if item.mask is None:
        return np.zeros((height, width), bool)
    m = cv2.imread(str(item.mask), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise DatasetError(f"mask {item.mask} is unreadable")
    return resize_mask(m, height, width)


def read_roi(path: str | Path) -> np.ndarray:
    """Read an ROI mask file -> (h,w) uint8 (255 on, 0 off).

    Raises:
        DatasetError: missing or unreadable file, or a mask with nothing on.
    """
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise DatasetError(f"ROI mask {path} is missing or unreadable")
    if not (m > 0).any():
        raise DatasetError(f"ROI mask {path} is empty (all 0)")
    return np.where(m > 0, 255, 0).astype(np.uint8)


#: How the held-out good images (calibration) are chosen: "strata" (stratified over the
#: training images' appearance), "kcentre" (spread to the outskirts) or "random".
HOLDOUT_CHOICES = ("strata", "kcentre", "random")


def thumbnails(images: np.ndarray, side: int = 16) -> np.ndarray:
    """(N,3,H,W) normalised images -> (N, 3*side*side) float32 global embeddings (area-averaged)."""
    out = np.empty((len(images), 3 * side * side), np.float32)
    for i, x in enumerate(images):
        small = cv2.resize(
            np.ascontiguousarray(x.transpose(1, 2, 0)), (side, side), interpolation=cv2.INTER_AREA
        )
        out[i] = small.reshape(-1)
    return out


def strata_indices(emb: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` rows of ``emb`` (N,D): one seeded random row per stratum.

    The rows are split into ``n`` strata of (nearly) equal size by recursive cuts across
    the first principal direction of each part (a balanced PCA tree), and one row is
    drawn from each: a stratified sample with proportional allocation. Like a random
    draw it represents the good images in proportion (its largest score is an unbiased
    stand-in for a random good image's), but no region holding 1/n of the images can be
    missed.
    """
    emb = np.asarray(emb, np.float64)
    n = int(min(max(n, 0), len(emb)))
    rng = np.random.default_rng(seed)
    out: list[int] = []

    def split(idx: np.ndarray, k: int) -> None:
        if k <= 0:
            return
        if k == 1 or len(idx) <= k:
            out.extend(int(i) for i in rng.choice(idx, size=k, replace=False))
            return
        x = emb[idx] - emb[idx].mean(0)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        order = idx[np.argsort(x @ vt[0], kind="stable")]
        k1 = k // 2
        cut = int(np.clip(round(len(idx) * k1 / k), k1, len(idx) - (k - k1)))
        split(order[:cut], k1)
        split(order[cut:], k - k1)

    split(np.arange(len(emb)), n)
    return np.sort(np.asarray(out, np.int64))


def kcentre_indices(emb: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` rows of ``emb`` (N,D) spread over it: greedy k-centre.

    Starts at a seeded random row, then repeatedly takes the row farthest from all taken
    ones: every row lies near a taken one, and the outskirts are taken first. As a
    calibration set this sets the threshold at the most unusual good images (measured:
    image recall at the threshold fell, see docs/models.md), hence not the default.
    """
    emb = np.asarray(emb, np.float64)
    n = int(min(max(n, 0), len(emb)))
    if n == 0:
        return np.empty(0, np.int64)
    sq = (emb * emb).sum(1)
    pick = [int(np.random.default_rng(seed).integers(len(emb)))]
    mind = np.full(len(emb), np.inf)
    for _ in range(n - 1):
        c = pick[-1]
        mind = np.minimum(mind, sq - 2.0 * emb @ emb[c] + sq[c])
        mind[pick] = -1.0
        pick.append(int(np.argmax(mind)))
    return np.sort(np.asarray(pick, np.int64))


def holdout_count(n_all: int, fraction: float) -> int:
    """Held-out images of ``n_all``: ``fraction`` of them, at least 1, leaving at least 1.

    Raises:
        DatasetError: fewer than 2 images.
    """
    if n_all < 2:
        raise DatasetError(f"need at least 2 good training images (fit + calibration), got {n_all}")
    return min(max(round(n_all * fraction), 1), n_all - 1)


def random_split(n_all: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) sorted indices of ``n_all`` images: a seeded random sample."""
    hold = np.sort(np.random.default_rng(seed).permutation(n_all)[: holdout_count(n_all, fraction)])
    return np.setdiff1d(np.arange(n_all), hold), hold


def choose_holdout(
    images: np.ndarray, fraction: float, seed: int, choice: str = "strata"
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) sorted indices into ``images`` (N,3,H,W); at least one of each.

    ``choice``: "strata" (:func:`strata_indices` on :func:`thumbnails`: calibration sees
    every kind of good image, in proportion), "kcentre" (:func:`kcentre_indices` on the
    thumbnails), "random" (a seeded random sample, the choice before issue 13).

    Raises:
        DatasetError: fewer than 2 images. ValueError: an unknown ``choice``.
    """
    n_all = len(images)
    n_hold = holdout_count(n_all, fraction)
    if choice == "random":
        return random_split(n_all, fraction, seed)
    if choice == "strata":
        hold = strata_indices(thumbnails(images), n_hold, seed)
    elif choice == "kcentre":
        hold = kcentre_indices(thumbnails(images), n_hold, seed)
    else:
        raise ValueError(
            f"holdout choice must be one of {', '.join(HOLDOUT_CHOICES)}, got {choice!r}"
        )
    fit = np.setdiff1d(np.arange(n_all), hold)
    return fit, hold
