"""Evaluate a model artifact on a category's test split with ONNX Runtime.

    python bench/eval_model.py --model MODEL_DIR --data ../shared/data/mpdd_metal_plate

Prints JSON: image AUROC, pixel AUROC, AUPRO (FPR <= 0.3), ms per image (ONNX
Runtime run only, p50), all on the graph's normalised outputs at model resolution.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.metrics import aupro, image_auroc, pixel_auroc
from xrbridge.models.data import load_category, load_mask, read_image
from xrbridge.models.preprocess import preprocess
from xrbridge.models.runtime import OnnxModel


def evaluate(model_dir: Path, data: Path, threads: int | None = None) -> dict[str, float]:
    model = OnnxModel(model_dir, threads=threads)
    cat = load_category(data)
    maps, masks, scores, labels, times = [], [], [], [], []
    for item in cat.test:
        img = read_image(item.path)
        if img is None:
            continue
        x = preprocess(img, model.manifest)
        t0 = time.perf_counter()
        m, s = model.run(x)
        times.append((time.perf_counter() - t0) * 1000)
        maps.append(m)
        scores.append(s)
        masks.append(load_mask(item, model.height, model.width))
        labels.append(item.defect != "good")
    M, G = np.stack(maps), np.stack(masks)
    S, L = np.asarray(scores), np.asarray(labels)
    return {
        "image_auroc": round(image_auroc(S, L), 4),
        "pixel_auroc": round(pixel_auroc(M, G), 4),
        "aupro": round(aupro(M, G), 4),
        "ms_p50": round(float(np.median(times)), 2),
        "n_images": len(S),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    json.dump(evaluate(a.model, a.data, a.threads), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
