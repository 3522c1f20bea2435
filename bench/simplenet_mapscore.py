"""Image AUROC of a model's exported maps under other image scores (max, top 1 %, top 0.1 %).

Used to pick SimpleNet's image score without retraining: the map does not depend on it.
The maps come out of the graph normalised and clipped to [0, 1], so the map-based scores
of images whose maps saturate tie (a lower bound of what the raw map gives). Run:

    python bench/simplenet_mapscore.py MODEL_DIR CATEGORY_DIR [--every K]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from xrbridge.models.data import load_category, read_image
from xrbridge.models.runtime import OnnxModel


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("model", type=Path)
    p.add_argument("data", type=Path)
    p.add_argument("--every", type=int, default=1)
    a = p.parse_args()
    model = OnnxModel(a.model, threads=1)
    scores: dict[str, list[float]] = {
        "pred_score": [],
        "map_max": [],
        "map_top1pct": [],
        "map_top0.1pct": [],
    }
    labels = []
    for item in load_category(a.data).test[:: a.every]:
        img = read_image(item.path)
        if img is None:
            continue
        amap, s = model.predict(img)
        f = np.sort(amap.ravel())[::-1]
        scores["pred_score"].append(s)
        scores["map_max"].append(float(f[0]))
        scores["map_top1pct"].append(float(f[: max(1, len(f) // 100)].mean()))
        scores["map_top0.1pct"].append(float(f[: max(1, len(f) // 1000)].mean()))
        labels.append(item.defect != "good")
    out = {k: round(float(roc_auc_score(labels, v)), 4) for k, v in scores.items()}
    print(json.dumps({"model": str(a.model), "images": len(labels), "image_auroc": out}))


if __name__ == "__main__":
    main()
