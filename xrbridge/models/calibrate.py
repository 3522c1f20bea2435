"""Score normalisation and thresholds, calibrated on held-out images.

Raw model scores have arbitrary units. The exported graph maps them to
``clip((raw - thr) / (max - min) + 0.5, 0, 1)`` so 0.5 is the threshold for
both the image score and the pixel map (CONTRACTS.md).

Without defective validation images (method ``heldout-good``): ``thr`` is the
largest raw value on the held-out good images (no false alarm on them),
``min`` the smallest, and ``max = thr + (thr - min)``: good images land in
[0, 0.5], a defect twice as far above the threshold as the good spread
reaches 1. With a validation set holding defects (method ``val-f1``): ``thr``
maximises F1 on it (image labels resp. mask pixels) and min/max span all
validation values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Norm:
    """Raw-unit threshold and span of one output (image score or pixel map)."""

    threshold: float
    min: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {"threshold": self.threshold, "min": self.min, "max": self.max}

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Normalise raw values (numpy twin of the in-graph op)."""
        span = max(self.max - self.min, 1e-12)
        return np.clip((raw - self.threshold) / span + 0.5, 0.0, 1.0)


def _best_f1_threshold(values: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-values, kind="stable")
    v, y = values[order], labels[order].astype(np.float64)
    tp = np.cumsum(y)
    fp = np.cumsum(1.0 - y)
    pos = max(y.sum(), 1.0)
    f1 = 2 * tp / (tp + fp + pos)
    # Only cut between distinct values.
    distinct = np.r_[v[1:] != v[:-1], True]
    i = int(np.argmax(np.where(distinct, f1, -1.0)))
    # Threshold halfway to the next lower value so that the chosen ones stay above.
    lo = v[i + 1] if i + 1 < len(v) else v[i] - 1e-6
    return float(0.5 * (v[i] + lo))


def from_good(values: np.ndarray) -> Norm:
    """Norm from raw values of held-out good data only."""
    v = np.asarray(values, np.float64).ravel()
    lo, thr = float(v.min()), float(v.max())
    span = max(thr - lo, 1e-6)
    return Norm(threshold=thr, min=lo, max=thr + span)


def from_labelled(good: np.ndarray, values: np.ndarray, labels: np.ndarray) -> Norm:
    """Norm from held-out good values plus labelled validation values (F1-optimal threshold)."""
    g = np.asarray(good, np.float64).ravel()
    v = np.asarray(values, np.float64).ravel()
    y = np.asarray(labels, bool).ravel()
    if not y.any():
        return from_good(np.r_[g, v])
    allv = np.r_[g, v]
    thr = _best_f1_threshold(allv, np.r_[np.zeros(len(g), bool), y])
    lo, hi = float(allv.min()), float(allv.max())
    if hi - lo < 1e-6:
        hi = lo + 1e-6
    return Norm(threshold=thr, min=lo, max=hi)


def pixel_sample(
    maps: np.ndarray, roi: np.ndarray | None, limit: int = 2_000_000, seed: int = 0
) -> np.ndarray:
    """Flatten (N,H,W) maps to values inside ``roi`` ((H,W) bool), subsampled to ``limit``."""
    vals = maps[:, roi] if roi is not None else maps.reshape(len(maps), -1)
    vals = vals.ravel()
    if vals.size > limit:
        vals = np.random.default_rng(seed).choice(vals, limit, replace=False)
    return vals
