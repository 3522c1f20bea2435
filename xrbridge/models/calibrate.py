"""Score normalisation and thresholds, calibrated on held-out images.

Raw model scores have arbitrary units. The exported graph maps them to
``squash((raw - thr) / (max - min) + 0.5)`` so 0.5 is the threshold for both
the image score and the pixel map (docs/contracts.md).

:func:`squash` is the identity on [0.1, 0.9] and bends into rational tails
outside, ``1 - 0.01 / (z - 0.8)`` above 0.9 and ``0.01 / (0.2 - z)`` below 0.1
(value and slope continuous at the joins): strictly increasing, in (0, 1), never
exactly 0 or 1. Until issue 13 the graph clipped to [0, 1] instead; every score
more than half a span above the threshold became 1.0 and those ties cost the
image AUROC (docs/models.md, SimpleNet). Artifacts exported before carry the
clip in their own graph and keep working; new manifests say
``score_normalization.curve: "squash"`` (absent: the old clip).

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
from typing import Any

import numpy as np

#: The linear part of :func:`squash` (normalised units): scores in it are unchanged.
LINEAR_LO, LINEAR_HI = 0.1, 0.9
#: ``score_normalization.curve`` of artifacts that use :func:`squash`.
CURVE = "squash"
# Tail scale: with t = LINEAR_LO = 1 - LINEAR_HI the tails are t^2 / (2t - z) and
# 1 - t^2 / (z - (1 - 2t)), which meet the line with value and slope 1.
_T = LINEAR_LO
# float32 neighbours of 0 and 1: the tails never round to exactly 0 or 1.
F32_ABOVE_0 = float(np.finfo(np.float32).tiny)
F32_BELOW_1 = float(np.nextafter(np.float32(1.0), np.float32(0.0)))


def squash(z: np.ndarray) -> np.ndarray:
    """Monotone map of normalised scores into (0, 1), the identity on [0.1, 0.9].

    Args:
        z: normalised values ``(raw - thr) / span + 0.5`` of any shape.

    Returns:
        float64 array of ``z``'s shape, strictly increasing in ``z``, within
        ``[F32_ABOVE_0, F32_BELOW_1]`` (in float32, whose step below 1 is 6e-8, values
        1e-3 apart stay apart up to ``z`` of about 10). The numpy twin of
        :func:`squash_torch`.
    """
    z = np.asarray(z, np.float64)
    # The unselected branch is evaluated too: clamp its argument to stay finite.
    upper = 1.0 - _T * _T / (np.maximum(z, LINEAR_HI) - (1.0 - 2 * _T))
    lower = _T * _T / (2 * _T - np.minimum(z, LINEAR_LO))
    out = np.where(z > LINEAR_HI, upper, np.where(z < LINEAR_LO, lower, z))
    return np.clip(out, F32_ABOVE_0, F32_BELOW_1)


def squash_torch(z: Any) -> Any:
    """:func:`squash` on a torch tensor (exported into the ONNX graph as Min/Max/Div/Where)."""
    import torch

    upper = 1.0 - _T * _T / (torch.clamp(z, min=LINEAR_HI) - (1.0 - 2 * _T))
    lower = _T * _T / (2 * _T - torch.clamp(z, max=LINEAR_LO))
    out = torch.where(z > LINEAR_HI, upper, torch.where(z < LINEAR_LO, lower, z))
    return torch.clamp(out, F32_ABOVE_0, F32_BELOW_1)


@dataclass(frozen=True, slots=True)
class Norm:
    """Raw-unit threshold and span of one output (image score or pixel map)."""

    threshold: float
    min: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {"threshold": self.threshold, "min": self.min, "max": self.max}

    @property
    def span(self) -> float:
        return float(max(self.max - self.min, 1e-12))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Normalise raw values into (0, 1), 0.5 at the threshold (numpy twin of the graph's op)."""
        return squash((np.asarray(raw, np.float64) - self.threshold) / self.span + 0.5)


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


#: Smallest half-span, relative to the threshold's magnitude. A few held-out images
#: with almost equal scores (seen: two at 0.467480 and 0.467485) would otherwise give a
#: span of 5e-6 that magnifies float32 rounding (PyTorch vs ONNX Runtime) 1e5-fold; the
#: clip hid that by saturating, the squash shows it. Real spans are far wider (SimpleNet
#: mpdd: 0.47 at a threshold of 0.49), so the floor only acts on degenerate ones.
MIN_REL_SPAN = 0.01


def _min_span(threshold: float) -> float:
    return max(1e-6, MIN_REL_SPAN * abs(threshold))


def from_good(values: np.ndarray) -> Norm:
    """Norm from raw values of held-out good data only.

    The half-span ``thr - min`` is at least ``MIN_REL_SPAN * |thr|`` (then ``min`` is
    moved down to ``thr - half-span``, keeping good images in [0, 0.5] before the squash).
    """
    v = np.asarray(values, np.float64).ravel()
    lo, thr = float(v.min()), float(v.max())
    span = max(thr - lo, _min_span(thr))
    return Norm(threshold=thr, min=thr - span, max=thr + span)


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
    if hi - lo < 2 * _min_span(thr):
        lo, hi = min(lo, thr - _min_span(thr)), max(hi, thr + _min_span(thr))
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
