"""Make a tall, narrow category (1:2.5) from an MVTec-layout one, for the input-size defaults.

Each image (and its mask) is cropped to its centred vertical strip of width H / 2.5; a
test image whose defect falls outside the strip becomes a good image (mask empty). Run:

    python bench/make_narrow.py ../shared/data/mpdd_metal_plate /tmp/narrow/mpdd_narrow
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np


def strip(img: np.ndarray, ratio: float = 2.5) -> np.ndarray:
    h, w = img.shape[:2]
    sw = round(h / ratio)
    x0 = (w - sw) // 2
    return img[:, x0 : x0 + sw]


def main(src: Path, dst: Path) -> None:
    for p in sorted((src / "train" / "good").glob("*.png")):
        out = dst / "train" / "good" / p.name
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), strip(cv2.imread(str(p), cv2.IMREAD_UNCHANGED)))
    for d in sorted((src / "test").iterdir()):
        for p in sorted(d.glob("*.png")):
            img = strip(cv2.imread(str(p), cv2.IMREAD_UNCHANGED))
            mp = src / "ground_truth" / d.name / f"{p.stem}_mask.png"
            sub = d.name
            if mp.is_file():
                m = strip(cv2.imread(str(mp), cv2.IMREAD_GRAYSCALE))
                if m.max() == 0:
                    sub = "good"
                    name = f"{d.name}_{p.name}"
                else:
                    name = p.name
                    (dst / "ground_truth" / sub).mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(dst / "ground_truth" / sub / f"{p.stem}_mask.png"), m)
            else:
                name = p.name if d.name == "good" else f"{d.name}_{p.name}"
            (dst / "test" / sub).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dst / "test" / sub / name), img)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
