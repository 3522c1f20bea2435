"""From a :class:`~xrbridge.eval.runner.RunResult` to ``metrics.json`` and the details.

``metrics.json`` holds exactly the keys of docs/contracts.md (fractions in
[0, 1]; ``null`` where a metric is undefined, e.g. AUROC without good images).
``fn_by_size`` counts the missed defective images (image-level false
negatives at the manifest's image threshold) per size class of eqs. 14-15.
``details.json`` holds what the report and ``compare`` need beyond that:
error bounds of the binned pixel metrics, confusion counts, size bounds,
per-defect-type metrics, notes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from xrbridge.eval import metrics as M
from xrbridge.eval.dataset import GOOD
from xrbridge.eval.runner import RunResult

METRIC_KEYS = (
    "image_auroc", "image_aupr", "image_precision", "image_recall", "image_f1",
    "pixel_auroc", "pixel_aupr", "pixel_aupro", "pixel_iou", "pixel_precision",
    "pixel_recall", "pixel_f1", "fp_share_image", "fp_share_pixel", "fn_by_size",
    "threshold_image", "threshold_pixel", "n_images", "latency_ms",
)  # fmt: skip


def _num(x: float) -> float | None:
    """JSON-safe float: None for nan."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _arrays(result: RunResult) -> tuple[np.ndarray, np.ndarray]:
    labels = np.array([r.label for r in result.records], bool)
    scores = np.array([r.score for r in result.records], np.float64)
    return labels, scores


def size_info(result: RunResult, threshold: float) -> dict[str, Any]:
    """Tertile bounds, images and misses per size class (defective images only)."""
    defective = [r for r in result.records if r.label]
    ratios = np.array([r.area_ratio for r in defective])
    missed = np.array([r.score < threshold for r in defective], bool)
    bounds = M.size_bounds(ratios)
    totals = dict.fromkeys(M.SIZE_CLASSES, 0)
    if ratios.size:
        for r in ratios:
            totals[M.size_class(float(r), bounds)] += 1
        fn = M.fn_by_size(ratios, missed, bounds)
    else:
        fn = dict.fromkeys(M.SIZE_CLASSES, 0)
    return {"bounds": [_num(b) for b in bounds], "images": totals, "fn": fn}


def per_defect(result: RunResult, threshold: float, pixel: bool = True) -> list[dict[str, Any]]:
    """One row per defect type: that type's images against all good images."""
    labels, scores = _arrays(result)
    defects = np.array([r.defect for r in result.records])
    good = defects == GOOD
    rows = []
    for d in sorted(set(defects.tolist()) - {GOOD}):
        sel = good | (defects == d)
        c = M.image_metrics(labels[sel], scores[sel], threshold)
        row: dict[str, Any] = {
            "defect": d,
            "n": int(np.sum(defects == d)),
            "image_auroc": _num(M.auroc(labels[sel], scores[sel])),
            "image_recall": _num(c.recall),
            "mean_score": float(scores[defects == d].mean()),
        }
        if pixel:
            pm = M.pixel_metrics(result.pixels.histograms((GOOD, d)))
            row |= {
                "pixel_auroc": _num(pm.auroc),
                "pixel_aupro": _num(pm.aupro),
                "pixel_iou": _num(pm.counts.iou),
            }
        rows.append(row)
    return rows


def summarise(result: RunResult, threshold_image: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics.json dict with exactly METRIC_KEYS, details dict)."""
    labels, scores = _arrays(result)
    ic = M.image_metrics(labels, scores, threshold_image)
    pm = M.pixel_metrics(result.pixels.histograms())
    pc = pm.counts
    sizes = size_info(result, threshold_image)
    lat = result.latencies_ms
    metrics: dict[str, Any] = {
        "image_auroc": _num(M.auroc(labels, scores)),
        "image_aupr": _num(M.average_precision(labels, scores)),
        "image_precision": _num(ic.precision),
        "image_recall": _num(ic.recall),
        "image_f1": _num(ic.f1),
        "pixel_auroc": _num(pm.auroc),
        "pixel_aupr": _num(pm.aupr),
        "pixel_aupro": _num(pm.aupro),
        "pixel_iou": _num(pc.iou),
        "pixel_precision": _num(pc.precision),
        "pixel_recall": _num(pc.recall),
        "pixel_f1": _num(pc.f1),
        "fp_share_image": _num(ic.fp_share),
        "fp_share_pixel": _num(pc.fp_share),
        "fn_by_size": sizes["fn"],
        "threshold_image": float(threshold_image),
        "threshold_pixel": pm.threshold,
        "n_images": len(result.records),
        "latency_ms": {
            q: (float(np.percentile(lat, p)) if lat.size else None)
            for q, p in (("p50", 50), ("p90", 90), ("p99", 99))
        },
    }
    assert tuple(metrics) == METRIC_KEYS
    details: dict[str, Any] = {
        "image_counts": {"tp": ic.tp, "fp": ic.fp, "fn": ic.fn, "tn": ic.tn},
        "pixel_counts": {"tp": pc.tp, "fp": pc.fp, "fn": pc.fn, "tn": pc.tn},
        "pixel_bounds": {
            "method": "binned",
            "n_bins": result.pixels.n_bins,
            "range": [result.pixels.lo, result.pixels.hi],
            "auroc_pm": _num(pm.auroc_bound),
            "aupr_interval": [_num(pm.aupr_lo), _num(pm.aupr_hi)],
            "aupro_pm": _num(pm.aupro_bound),
        },
        "aupro_fpr_limit": pm.fpr_limit,
        "n_regions": pm.n_regions,
        "n_good": int(np.sum(~labels)),
        "n_defective": int(np.sum(labels)),
        "sizes": sizes,
        "per_defect": per_defect(result, threshold_image),
        "notes": list(result.notes),
    }
    return metrics, details
