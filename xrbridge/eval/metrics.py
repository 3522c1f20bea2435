"""The paper's evaluation metrics (section 7), in pure numpy.

Image level (exact, from one ``pred_score`` per image):
    :func:`roc_curve`, :func:`auroc`, :func:`pr_curve`, :func:`average_precision`
    (the same definitions as scikit-learn: ties share one threshold, AP is the
    step-wise ``sum_n (R_n - R_{n-1}) P_n``) and :func:`image_metrics`
    (precision, recall, F1 and FP_share at a fixed threshold).

Pixel level (streaming, from score histograms): see
:mod:`xrbridge.eval.histogram` for the accumulator and :func:`pixel_metrics`
here for the metrics computed from it, each with an error bound.

Size-aware false negatives (eqs. 14-15): :func:`area_ratio`,
:func:`size_bounds`, :func:`size_class`, :func:`fn_by_size`.

Conventions: a sample is predicted anomalous when ``score >= threshold``;
FP_share = FP / (FP + FN), defined as 0.0 when there is no error at all;
metrics that are undefined (no positives, no negatives) are ``nan``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xrbridge.eval.histogram import Histograms

#: FPR up to which the PRO curve is integrated (MVTec AD convention, paper section 7).
AUPRO_FPR_LIMIT = 0.3
#: Empirical quantiles of eq. 15 (tertiles of the area ratio per view).
TERTILES = (0.333, 0.667)
SIZE_CLASSES = ("small", "medium", "large")


def _check_binary(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(
            f"labels and scores must have the same length, got {y.shape} and {s.shape}"
        )
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return y, s


def _tied_counts(
    labels: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positives and negatives per distinct score, highest score first."""
    y, s = _check_binary(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos = np.add.reduceat(y.astype(np.float64), starts) if s.size else np.zeros(0)
    size = np.diff(np.r_[starts, s.size]).astype(np.float64)
    return pos, size - pos, s[starts]


def curves_from_counts(
    pos: np.ndarray, neg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative TP, FP at each threshold, thresholds ordered from the highest down.

    Args:
        pos, neg: (K,) counts of positives / negatives at threshold k exactly
            (a distinct score, or a histogram bin), highest threshold first.
    Returns:
        (tp, fp, fpr, tpr), each (K + 1,) float64, starting at the point where
        nothing is predicted anomalous (tp = fp = 0).
    """
    tp = np.r_[0.0, np.cumsum(pos, dtype=np.float64)]
    fp = np.r_[0.0, np.cumsum(neg, dtype=np.float64)]
    p, n = tp[-1], fp[-1]
    tpr = tp / p if p > 0 else np.full_like(tp, np.nan)
    fpr = fp / n if n > 0 else np.full_like(fp, np.nan)
    return tp, fp, fpr, tpr


def _auroc_from_counts(pos: np.ndarray, neg: np.ndarray) -> float:
    _, _, fpr, tpr = curves_from_counts(pos, neg)
    if np.isnan(fpr[-1]) or np.isnan(tpr[-1]):
        return math.nan
    return float(np.trapezoid(tpr, fpr))


def _ap_from_counts(pos: np.ndarray, neg: np.ndarray) -> float:
    tp, fp, _, _ = curves_from_counts(pos, neg)
    p = tp[-1]
    if p == 0:
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 1.0)
    return float(np.sum(np.diff(tp) / p * precision[1:]))


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve like ``sklearn.metrics.roc_curve(drop_intermediate=False)``.

    Args:
        labels: (N,) bool or {0, 1}; scores: (N,) float.
    Returns:
        (fpr, tpr, thresholds), each (K + 1,); thresholds[0] = +inf.
    """
    pos, neg, thr = _tied_counts(labels, scores)
    _, _, fpr, tpr = curves_from_counts(pos, neg)
    return fpr, tpr, np.r_[np.inf, thr]


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoidal, ties count half). nan without both classes."""
    pos, neg, _ = _tied_counts(labels, scores)
    return _auroc_from_counts(pos, neg)


def pr_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds), highest threshold first, (K,) each."""
    pos, neg, thr = _tied_counts(labels, scores)
    tp, fp, _, _ = curves_from_counts(pos, neg)
    tp, fp = tp[1:], fp[1:]
    precision = tp / np.maximum(tp + fp, 1.0)
    recall = tp / tp[-1] if tp.size and tp[-1] > 0 else np.full_like(tp, np.nan)
    return precision, recall, thr


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """AU-PR as average precision ``sum_n (R_n - R_{n-1}) P_n`` (scikit-learn's definition)."""
    pos, neg, _ = _tied_counts(labels, scores)
    return _ap_from_counts(pos, neg)


@dataclass(frozen=True, slots=True)
class Counts:
    """Confusion counts at one threshold and the rates derived from them."""

    tp: float
    fp: float
    fn: float
    tn: float

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp > 0 else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn > 0 else math.nan

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d > 0 else math.nan

    @property
    def iou(self) -> float:
        d = self.tp + self.fp + self.fn
        return self.tp / d if d > 0 else math.nan

    @property
    def fp_share(self) -> float:
        """FP / (FP + FN), eq. 13; 0.0 when there is no error at all."""
        e = self.fp + self.fn
        return self.fp / e if e > 0 else 0.0


def image_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Counts:
    """Confusion counts of ``scores >= threshold`` against ``labels`` ((N,) each)."""
    y, s = _check_binary(labels, scores)
    pred = s >= threshold
    return Counts(
        tp=float(np.sum(pred & y)),
        fp=float(np.sum(pred & ~y)),
        fn=float(np.sum(~pred & y)),
        tn=float(np.sum(~pred & ~y)),
    )


# ----------------------------------------------------------------------------- pixel level


def _harmonic(x: np.ndarray) -> np.ndarray:
    """H(x) = sum_{k=1..x} 1/k for integer-valued x >= 0 (asymptotic series above 32, |err| < 1e-12)."""
    x = np.asarray(x, dtype=np.float64)
    table = np.r_[0.0, np.cumsum(1.0 / np.arange(1, 33))]
    small = x <= 32
    out = np.empty_like(x)
    out[small] = table[x[small].astype(np.int64)]
    xl = x[~small]
    out[~small] = (
        np.log(xl) + 0.5772156649015329 + 1 / (2 * xl) - 1 / (12 * xl**2) + 1 / (120 * xl**4)
    )
    return out


def _ap_bounds(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """Lowest and highest AP of any order of the scores inside each bin.

    Inside a bin of p positives and n negatives after TP0, FP0 higher-scored
    samples, positive j (1..p) has precision (TP0 + j) / (TP0 + FP0 + j) when
    the bin's positives come first and (TP0 + j) / (TP0 + FP0 + n + j) when
    they come last; sum_j (a + j)/(c + j) = p - (c - a)(H(c + p) - H(c)).
    Ties inside a bin (treated as one threshold) fall between these two.
    """
    tp, fp, _, _ = curves_from_counts(pos, neg)
    total = tp[-1]
    if total == 0:
        return math.nan, math.nan
    tp0, fp0 = tp[:-1], fp[:-1]
    p = np.asarray(pos, dtype=np.float64)
    n = np.asarray(neg, dtype=np.float64)
    c_best = tp0 + fp0
    best = p - fp0 * (_harmonic(c_best + p) - _harmonic(c_best))
    c_worst = tp0 + fp0 + n
    worst = p - (fp0 + n) * (_harmonic(c_worst + p) - _harmonic(c_worst))
    tied = p * (tp0 + p) / np.maximum(tp0 + fp0 + p + n, 1.0)
    lo = float(np.sum(np.minimum(worst, tied)) / total)
    hi = float(np.sum(np.maximum(best, tied)) / total)
    return max(lo, 0.0), min(hi, 1.0)


@dataclass(frozen=True, slots=True)
class PixelMetrics:
    """Pixel-level metrics from binned scores, with the binning error bounds.

    ``*_bound``: the exact value (for the unbinned scores) lies within
    ``value +- bound``; for AU-PR within ``[aupr_lo, aupr_hi]``. IoU,
    precision, recall, F1 and FP_share are exact at ``threshold`` (a bin edge),
    the IoU-maximising edge; thresholds between edges are not searched.
    """

    auroc: float
    auroc_bound: float
    aupr: float
    aupr_lo: float
    aupr_hi: float
    aupro: float
    aupro_bound: float
    fpr_limit: float
    threshold: float
    counts: Counts
    n_regions: int


def _aupro(neg: np.ndarray, pro_w: np.ndarray, n_regions: int, limit: float) -> tuple[float, float]:
    """Normalised area under PRO(FPR) up to ``limit``, and its binning bound."""
    if n_regions == 0 or neg.sum() == 0:
        return math.nan, math.nan
    _, _, fpr, _ = curves_from_counts(np.zeros_like(neg), neg)
    pro = np.r_[0.0, np.cumsum(pro_w)] / n_regions
    # Keep the points up to the first one past the limit, then cut the last segment at the limit.
    k = int(np.searchsorted(fpr, limit, side="left"))
    if k >= fpr.size:
        x, y = fpr, pro
    else:
        x0, x1, y0, y1 = fpr[k - 1], fpr[k], pro[k - 1], pro[k]
        y_lim = y0 + (y1 - y0) * (limit - x0) / (x1 - x0) if x1 > x0 else y1
        x, y = np.r_[fpr[:k], limit], np.r_[pro[:k], y_lim]
    area = float(np.trapezoid(y, x)) / limit
    # Inside a bin both FPR and PRO grow monotonically: the true curve lies in
    # the bin's box, so it differs from the chord by at most half the box.
    bound = float(np.sum(np.diff(x) * np.diff(y)) / 2) / limit
    return area, bound


def pixel_metrics(hist: Histograms, fpr_limit: float = AUPRO_FPR_LIMIT) -> PixelMetrics:
    """All pixel-level metrics of section 7 from one set of histograms.

    Args:
        hist: positives, negatives and PRO weights per bin (see
            :class:`xrbridge.eval.histogram.PixelAccumulator`).
        fpr_limit: FPR up to which AUPRO is integrated; the area is divided by it.
    """
    pos, neg, pro_w = hist.pos[::-1], hist.neg[::-1], hist.pro[::-1]  # highest bin first
    p_total, n_total = float(pos.sum()), float(neg.sum())
    auroc_v = _auroc_from_counts(pos, neg)
    auroc_b = (
        float(np.sum(pos * neg) / (2 * p_total * n_total)) if p_total and n_total else math.nan
    )
    aupr_v = _ap_from_counts(pos, neg)
    aupr_lo, aupr_hi = _ap_bounds(pos, neg)
    aupro_v, aupro_b = _aupro(neg, pro_w, hist.n_regions, fpr_limit)
    tp, fp, _, _ = curves_from_counts(pos, neg)
    # Threshold index k (1..K) predicts the k highest bins; the lower edge of bin k is the threshold.
    iou = tp[1:] / np.maximum(p_total + fp[1:], 1.0)
    k = int(np.argmax(iou)) + 1 if p_total > 0 else 1
    edges = hist.edges[::-1]  # lower edges, highest first
    counts = Counts(
        tp=float(tp[k]), fp=float(fp[k]), fn=p_total - float(tp[k]), tn=n_total - float(fp[k])
    )
    return PixelMetrics(
        auroc=auroc_v,
        auroc_bound=auroc_b,
        aupr=aupr_v,
        aupr_lo=aupr_lo,
        aupr_hi=aupr_hi,
        aupro=aupro_v,
        aupro_bound=aupro_b,
        fpr_limit=fpr_limit,
        threshold=float(edges[k - 1]),
        counts=counts,
        n_regions=hist.n_regions,
    )


def binned_curves(hist: Histograms) -> dict[str, np.ndarray]:
    """ROC and PR curves of the binned pixel scores, for plots ((K + 1,) each)."""
    tp, fp, fpr, tpr = curves_from_counts(hist.pos[::-1], hist.neg[::-1])
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1.0), 1.0)
    return {"fpr": fpr, "tpr": tpr, "precision": precision, "recall": tpr}


# ----------------------------------------------------------------------------- size classes


def area_ratio(mask: np.ndarray) -> float:
    """Eq. 14: fraction of the mask's pixels that are defect (non-zero). mask: (H, W)."""
    m = np.asarray(mask)
    return float(np.count_nonzero(m)) / m.size if m.size else 0.0


def size_bounds(ratios: np.ndarray) -> tuple[float, float]:
    """Eq. 15: (b1, b2) = empirical 0.333 / 0.667 quantiles of the defective images' area ratios."""
    r = np.asarray(ratios, dtype=np.float64)
    if r.size == 0:
        return math.nan, math.nan
    b1, b2 = np.quantile(r, TERTILES)
    return float(b1), float(b2)


def size_class(ratio: float, bounds: tuple[float, float]) -> str:
    """small if ratio < b1, medium if b1 <= ratio < b2, large if ratio >= b2."""
    b1, b2 = bounds
    if ratio < b1:
        return "small"
    return "medium" if ratio < b2 else "large"


def fn_by_size(
    ratios: np.ndarray, missed: np.ndarray, bounds: tuple[float, float]
) -> dict[str, int]:
    """Count the missed defective images per size class.

    Args:
        ratios: (N,) area ratios of the defective test images.
        missed: (N,) bool, True where the image was predicted normal (a false negative).
        bounds: (b1, b2) from :func:`size_bounds` over the same view.
    """
    out = dict.fromkeys(SIZE_CLASSES, 0)
    for r, m in zip(np.asarray(ratios), np.asarray(missed, dtype=bool), strict=True):
        if m:
            out[size_class(float(r), bounds)] += 1
    return out
