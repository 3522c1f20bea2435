"""The test split of one category in the MVTec AD layout (docs/contracts.md).

    <category>/test/good/*                     normal test images
    <category>/test/<defect>/*                 defective test images
    <category>/ground_truth/<defect>/<stem>_mask.png   0 = normal, > 0 = defect
    <category>/roi.png                         optional default ROI (255 analysed)

Problems that make a metric wrong are refused (:class:`DatasetError`): no
``test/`` folder, a defect folder without its ``ground_truth`` folder, a
defective image without its mask. Problems that can be repaired are repaired
and *said*: a mask of another size than its image is resized with nearest
neighbour, a mask with values other than 0 and 255 is binarised (> 0 is
defect). Each repair becomes a note in :attr:`LoadedSample.notes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from xrbridge.errors import DatasetError, ImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
GOOD = "good"


@dataclass(frozen=True, slots=True)
class Sample:
    """One test image: ``defect`` is "good" or the defect folder's name."""

    image: Path
    defect: str
    mask: Path | None

    @property
    def is_defective(self) -> bool:
        return self.defect != GOOD


@dataclass(frozen=True, slots=True)
class LoadedSample:
    """A sample read from disk.

    image: (H, W, 3) uint8 BGR; mask: (H, W) bool (all False for good images);
    notes: what was repaired while loading (empty when nothing was).
    """

    sample: Sample
    image: np.ndarray
    mask: np.ndarray
    notes: tuple[str, ...]


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def list_test_set(category: Path) -> list[Sample]:
    """All test samples of ``category``, good first, then defect folders by name.

    Raises:
        DatasetError: not an MVTec-layout category, or masks missing.
    """
    test = category / "test"
    if not test.is_dir():
        raise DatasetError(f"data folder {category} must contain test/ (MVTec layout), found none")
    folders = sorted(p for p in test.iterdir() if p.is_dir())
    if not folders:
        raise DatasetError(f"{test} must contain test/good/ and test/<defect>/ folders, found none")
    samples: list[Sample] = []
    for folder in sorted(folders, key=lambda p: (p.name != GOOD, p.name)):
        images = _images(folder)
        if folder.name == GOOD:
            samples += [Sample(p, GOOD, None) for p in images]
            continue
        gt = category / "ground_truth" / folder.name
        if not gt.is_dir():
            raise DatasetError(
                f"test/{folder.name}/ of {category} has no ground_truth/{folder.name}/ "
                f"(expected a <stem>_mask.png per image)"
            )
        for p in images:
            mask = gt / f"{p.stem}_mask.png"
            if not mask.is_file():
                raise DatasetError(f"no mask for {p}: expected {mask}")
            samples.append(Sample(p, folder.name, mask))
    if not samples:
        raise DatasetError(f"{test} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return samples


def subsample(samples: list[Sample], every: int) -> list[Sample]:
    """Every ``every``-th sample of each test folder (in listing order); all when 1."""
    if every <= 1:
        return samples
    out: list[Sample] = []
    seen: dict[str, int] = {}
    for s in samples:
        i = seen.get(s.defect, 0)
        seen[s.defect] = i + 1
        if i % every == 0:
            out.append(s)
    return out


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 BGR; grey images are expanded to three channels."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(
            f"cannot read image {path}: expected a readable PNG/JPEG, got an unreadable file"
        )
    return img


def read_mask(path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """Read a ground-truth mask as (H, W) bool for an image of ``shape`` (H, W).

    Returns the mask and the notes of what was repaired.
    """
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ImageError(
            f"cannot read mask {path}: expected a readable PNG, got an unreadable file"
        )
    if raw.ndim == 3:
        raw = raw.max(axis=2)
    notes: list[str] = []
    if raw.shape != shape:
        notes.append(
            f"mask {path.name} is {raw.shape[1]}x{raw.shape[0]}, image is {shape[1]}x{shape[0]}:"
            " resized with nearest neighbour"
        )
        raw = cv2.resize(raw, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    values = np.unique(raw)
    if not np.isin(values, (0, 255)).all():
        shown = ", ".join(str(v) for v in values[:6]) + (", ..." if values.size > 6 else "")
        notes.append(
            f"mask {path.name} has values {{{shown}}}, expected 0/255: binarised (> 0 = defect)"
        )
    return raw > 0, notes


def read_roi(path: Path) -> np.ndarray:
    """(H, W) bool ROI (True = analysed) from a grey PNG (255 analysed, 0 ignored)."""
    roi = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if roi is None:
        raise ImageError(f"cannot read ROI {path}: expected a grey PNG (255 analysed, 0 ignored)")
    if not roi.any():
        raise ImageError(f"ROI {path} is all zero: nothing would be analysed")
    return roi > 0


def load(samples: list[Sample]) -> Iterator[LoadedSample]:
    """Read the samples one by one (only one image in memory at a time)."""
    for s in samples:
        image = read_image(s.image)
        if s.mask is None:
            yield LoadedSample(s, image, np.zeros(image.shape[:2], bool), ())
            continue
        mask, notes = read_mask(s.mask, image.shape[:2])
        yield LoadedSample(s, image, mask, tuple(notes))
