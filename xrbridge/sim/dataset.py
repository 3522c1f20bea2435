"""Per-view data sets in the MVTec AD layout, cropped from rendered frames.

    dataset/<view>/train/good/*.png            defect-free cars, several frames each
    dataset/<view>/test/good/*.png             one frame per test car
    dataset/<view>/test/<defect>/*.png         one frame per car with a defect in the view
    dataset/<view>/ground_truth/<defect>/<stem>_mask.png   255 = defect
    dataset/<view>/roi.png                     the view's ROI mask
    dataset/<view>/labels.json                 {stem: split, category, car, defects (type, size, region)}

Crops are the view's truth bbox (template size) rounded to whole pixels; the
masks are the defects' frame polygons rasterised in the crop's pixel grid.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from xrbridge.names import DEFECTS, VIEWS


@dataclass(frozen=True, slots=True)
class Shot:
    """A data-set image to cut from a frame: ``split`` is 'train' or 'test',
    ``category`` 'good' or a defect type; ``polygons`` the view's defects in frame px."""

    car_id: int
    view: str
    split: str
    category: str
    stem: str
    polygons: tuple[np.ndarray, ...] = ()
    labels: tuple[dict[str, object], ...] = ()  # the view's defects: id, type, size, region


def split_for(good_index: int) -> str:
    """Every fourth defect-free car goes to test/good, the rest to training."""
    return "test" if good_index % 4 == 3 else "train"


def spread(n_items: int, k: int, centre: int) -> list[int]:
    """``k`` indices out of range(n_items), evenly spread, always including ``centre``."""
    if n_items <= k:
        return list(range(n_items))
    picks = {round(i * (n_items - 1) / (k - 1)) for i in range(k)} if k > 1 else set()
    picks.add(centre)
    picks_sorted = sorted(picks, key=lambda i: (i != centre, abs(i - centre)))
    return sorted(picks_sorted[:k])


class DatasetWriter:
    """Writes crops and masks under ``root`` and counts them."""

    def __init__(self, root: Path, rois: dict[str, np.ndarray]) -> None:
        self.root = root
        self.counts: Counter[str] = Counter()
        self.labels: dict[str, dict[str, object]] = {v: {} for v in VIEWS}
        for view in VIEWS:
            base = root / view
            (base / "train" / "good").mkdir(parents=True, exist_ok=True)
            (base / "test" / "good").mkdir(parents=True, exist_ok=True)
            for d in DEFECTS:
                (base / "test" / d).mkdir(parents=True, exist_ok=True)
                (base / "ground_truth" / d).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(base / "roi.png"), rois[view])

    def write(self, shot: Shot, frame: np.ndarray, bbox: tuple[float, ...]) -> None:
        """Cut ``bbox`` (x, y, w, h frame px) out of ``frame`` (H, W, 3) uint8."""
        H, W = frame.shape[:2]
        w, h = int(bbox[2]), int(bbox[3])
        x = min(max(round(bbox[0]), 0), W - w)
        y = min(max(round(bbox[1]), 0), H - h)
        crop = frame[y : y + h, x : x + w]
        base = self.root / shot.view
        cv2.imwrite(str(base / shot.split / shot.category / f"{shot.stem}.png"), crop)
        if shot.category != "good":
            mask = np.zeros((h, w), np.uint8)
            polys = [
                np.round((p - (x, y)) * 16).astype(np.int32).reshape(-1, 1, 2)
                for p in shot.polygons
            ]
            cv2.fillPoly(mask, polys, 255, cv2.LINE_8, 4)
            cv2.imwrite(str(base / "ground_truth" / shot.category / f"{shot.stem}_mask.png"), mask)
        self.counts[f"{shot.view}/{shot.split}/{shot.category}"] += 1
        self.labels[shot.view][shot.stem] = {
            "split": shot.split,
            "category": shot.category,
            "car": shot.car_id,
            "defects": list(shot.labels),
        }

    def close(self) -> None:
        """Write each view's labels.json."""
        for view in VIEWS:
            labels = dict(sorted(self.labels[view].items()))
            (self.root / view / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, n in sorted(self.counts.items()):
            view, rest = key.split("/", 1)
            out.setdefault(view, {})[rest] = n
        return out
