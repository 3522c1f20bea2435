"""Small metric helpers for the model benchmarks (the full suite lives in `xrbridge eval`)."""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score


def aupro(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = 0.3, steps: int = 300) -> float:
    """Area under the per-region-overlap curve up to ``fpr_limit`` FPR, normalised to [0, 1].

    maps (N,H,W) float, masks (N,H,W) bool. Regions are 8-connected components of the masks.
    """
    normal = np.sort(maps[~masks].ravel())
    regions = []
    for m, gt in zip(maps, masks, strict=True):
        if not gt.any():
            continue
        n, lab = cv2.connectedComponents(gt.astype(np.uint8), connectivity=8)
        for r in range(1, n):
            regions.append(np.sort(m[lab == r]))
    if not regions or normal.size == 0:
        return float("nan")
    fprs = np.linspace(0.0, fpr_limit, steps)
    # threshold giving each FPR: the (1-fpr) quantile of the normal pixels
    thr = np.quantile(normal, 1.0 - fprs)
    actual_fpr = 1.0 - np.searchsorted(normal, thr, side="right") / normal.size
    pro = np.zeros(steps)
    for r in regions:
        pro += 1.0 - np.searchsorted(r, thr, side="right") / r.size
    pro /= len(regions)
    order = np.argsort(actual_fpr)
    x, y = actual_fpr[order], pro[order]
    x = np.clip(x, 0, fpr_limit)
    return float(np.trapezoid(y, x) / fpr_limit)


def image_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(roc_auc_score(labels.astype(int), scores))


def pixel_auroc(
    maps: np.ndarray, masks: np.ndarray, limit: int = 4_000_000, seed: int = 0
) -> float:
    v, y = maps.ravel(), masks.ravel()
    if v.size > limit:
        idx = np.random.default_rng(seed).choice(v.size, limit, replace=False)
        v, y = v[idx], y[idx]
    return float(roc_auc_score(y.astype(int), v))
