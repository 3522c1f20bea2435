"""Make a "small defects on large images" category: 2 x 2 mosaics of an MVTec-layout one.

Every image becomes one cell (``--cell`` px square, default 256) of a 2 x 2 mosaic, so
the mosaic is 2 x cell on each side and a defect covers a quarter of the share of the
image it had. Train: mosaics of 4 train/good images (``--train`` of them). Test: each
chosen defective image in a random cell, the other three cells test/good images; good
test mosaics of 4 test/good images. Masks follow their cell. Seeded, so the same
command gives the same category:

    python bench/make_mosaic.py ../shared/data/magnetic_tile /tmp/mosaic/magnetic_tile_mosaic
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)


def _cell(path: Path, cell: int, grey: bool = False) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"unreadable image {path}")
    interp = cv2.INTER_NEAREST if grey else cv2.INTER_AREA
    return cv2.resize(img, (cell, cell), interpolation=interp)


def _mosaic(cells: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(
        [np.concatenate(cells[:2], axis=1), np.concatenate(cells[2:], axis=1)], axis=0
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--cell", type=int, default=256)
    ap.add_argument("--train", type=int, default=100, help="train mosaics (4 images each)")
    ap.add_argument("--per-defect", type=int, default=12, help="defective test images per type")
    ap.add_argument("--good", type=int, default=30, help="good test mosaics")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    src, dst, cell = args.src, args.dst, args.cell

    train = _images(src / "train" / "good")
    order = rng.permutation(len(train))[: 4 * args.train]
    out = dst / "train" / "good"
    out.mkdir(parents=True, exist_ok=True)
    for i in range(len(order) // 4):
        cells = [_cell(train[j], cell) for j in order[4 * i : 4 * i + 4]]
        cv2.imwrite(str(out / f"mosaic_{i:04d}.png"), _mosaic(cells))

    good = _images(src / "test" / "good")
    g_order = rng.permutation(len(good))
    n_good = min(args.good, len(good) // 4)
    out = dst / "test" / "good"
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n_good):
        cells = [_cell(good[j], cell) for j in g_order[4 * i : 4 * i + 4]]
        cv2.imwrite(str(out / f"mosaic_{i:04d}.png"), _mosaic(cells))

    blank = np.zeros((cell, cell), np.uint8)
    for d in sorted(p for p in (src / "test").iterdir() if p.is_dir() and p.name != "good"):
        items = _images(d)
        for k in rng.permutation(len(items))[: args.per_defect]:
            p = items[int(k)]
            mask_p = src / "ground_truth" / d.name / f"{p.stem}_mask.png"
            if not mask_p.is_file():
                continue
            where = int(rng.integers(4))
            fill = rng.choice(len(good), 3, replace=False)
            cells = [_cell(good[int(j)], cell) for j in fill]
            masks = [blank, blank, blank]
            cells.insert(where, _cell(p, cell))
            masks.insert(where, _cell(mask_p, cell, grey=True))
            (dst / "test" / d.name).mkdir(parents=True, exist_ok=True)
            (dst / "ground_truth" / d.name).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dst / "test" / d.name / f"{p.stem}.png"), _mosaic(cells))
            cv2.imwrite(
                str(dst / "ground_truth" / d.name / f"{p.stem}_mask.png"),
                np.where(_mosaic(masks) > 0, 255, 0).astype(np.uint8),
            )


if __name__ == "__main__":
    main()
