"""Image and pixel AUROC of a model artifact on a category's test split (ONNX Runtime).

    python bench/efficientad_accuracy.py --model MODEL_DIR --data ../shared/data/magnetic_tile \
        [--limit 150] [--threads 1]

``--limit N`` evaluates a seeded, class-stratified subset of N test images (for
slow models on big test sets; the JSON says how many were used). Prints JSON.
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


def stratified(items: list, limit: int, seed: int) -> list:
    """A seeded subset of ``limit`` items keeping each defect class's share."""
    if limit <= 0 or limit >= len(items):
        return items
    rng = np.random.default_rng(seed)
    by_class: dict[str, list] = {}
    for it in items:
        by_class.setdefault(it.defect, []).append(it)
    out = []
    for group in by_class.values():
        k = max(1, round(limit * len(group) / len(items)))
        out += [group[i] for i in sorted(rng.permutation(len(group))[:k])]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=0, help="evaluate a stratified subset of N images")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    model = OnnxModel(args.model, threads=args.threads)
    items = stratified(list(load_category(args.data).test), args.limit, args.seed)
    maps, masks, scores, labels, times = [], [], [], [], []
    for item in items:
        img = read_image(item.path)
        if img is None:
            continue
        x = preprocess(img, model.manifest)
        t0 = time.perf_counter()
        m, s = model.run(x)
        times.append((time.perf_counter() - t0) * 1000.0)
        maps.append(m)
        scores.append(s)
        masks.append(load_mask(item, model.height, model.width))
        labels.append(item.defect != "good")
    amaps, gts = np.stack(maps), np.stack(masks)
    out = {
        "model": model.manifest["model"], "model_dir": str(args.model), "data": str(args.data),
        "image_auroc": round(image_auroc(np.asarray(scores), np.asarray(labels)), 4),
        "pixel_auroc": round(pixel_auroc(amaps, gts), 4),
        "aupro": round(aupro(amaps, gts), 4),
        "ms_p50": round(float(np.median(times)), 1), "n_images": len(scores),
        "n_test_images": len(load_category(args.data).test), "steps": model.manifest["training"]["steps"],
    }  # fmt: skip
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
