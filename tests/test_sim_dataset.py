"""Per-view data sets in the MVTec layout."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from xrbridge.names import DEFECTS, VIEWS


def _imread(path: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    img = cv2.imread(path, flags)
    assert img is not None, path
    return img


def test_mvtec_layout_and_masks(sim_small: Path) -> None:
    views = json.loads((sim_small / "templates" / "views.json").read_text())
    n_defective = 0
    for v in VIEWS:
        base = sim_small / "dataset" / v
        assert (base / "train" / "good").is_dir() and (base / "test" / "good").is_dir()
        roi = _imread(str(base / "roi.png"), cv2.IMREAD_GRAYSCALE)
        shape = (views[v]["height"], views[v]["width"])
        assert roi.shape == shape
        train = sorted((base / "train" / "good").glob("*.png"))
        assert len(train) >= 3  # several frames per training car
        for p in train[:3]:
            assert _imread(str(p)).shape == (*shape, 3)
        for d in DEFECTS:
            for img in sorted((base / "test" / d).glob("*.png")):
                n_defective += 1
                mask_p = base / "ground_truth" / d / f"{img.stem}_mask.png"
                assert mask_p.is_file(), f"no mask for {img}"
                mask = _imread(str(mask_p), cv2.IMREAD_GRAYSCALE)
                assert mask.shape == shape
                assert (mask > 0).sum() > 20
                assert set(np.unique(mask)) <= {0, 255}
            # no stray masks without images
            for m in (base / "ground_truth" / d).glob("*_mask.png"):
                assert (base / "test" / d / m.name.replace("_mask.png", ".png")).is_file()
    assert n_defective >= 1


def test_labels_index_every_image(sim_small: Path) -> None:
    for v in VIEWS:
        base = sim_small / "dataset" / v
        labels = json.loads((base / "labels.json").read_text())
        files = {p.stem: p for p in base.glob("t*/*/*.png")}
        assert set(labels) == set(files)
        for stem, lab in labels.items():
            assert files[stem].parent.name == lab["category"]
            assert files[stem].parent.parent.name == lab["split"]
            assert (lab["category"] == "good") == (not lab["defects"])
            assert all(d["size"] in ("small", "medium", "large") for d in lab["defects"])
