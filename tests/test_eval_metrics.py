"""Metric code against hand-computed cases and scikit-learn."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from xrbridge.eval import metrics as M
from xrbridge.eval.histogram import PixelAccumulator

# --------------------------------------------------------------------------- hand-computed


def test_auroc_hand_case() -> None:
    # pos scores 0.9, 0.4; neg 0.6, 0.1: pairs (0.9>0.6, 0.9>0.1, 0.4<0.6, 0.4>0.1) -> 3/4
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, 0.4, 0.6, 0.1])
    assert M.auroc(y, s) == pytest.approx(0.75)
    # AP: ranks 0.9(P) 0.6(N) 0.4(P) 0.1(N): precisions at positives 1/1 and 2/3 -> (1 + 2/3)/2
    assert M.average_precision(y, s) == pytest.approx((1 + 2 / 3) / 2)


def test_ties_count_half() -> None:
    y = np.array([1, 0])
    s = np.array([0.5, 0.5])
    assert M.auroc(y, s) == pytest.approx(0.5)
    assert M.average_precision(y, s) == pytest.approx(0.5)


def test_undefined_without_both_classes() -> None:
    assert math.isnan(M.auroc(np.ones(3), np.arange(3.0)))
    assert math.isnan(M.average_precision(np.zeros(3), np.arange(3.0)))


def test_image_counts_and_fp_share() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.5, 0.2, 0.7, 0.6, 0.1, 0.0])
    c = M.image_metrics(y, s, 0.5)  # >= 0.5 is anomalous
    assert (c.tp, c.fp, c.fn, c.tn) == (2, 2, 1, 2)
    assert c.precision == pytest.approx(0.5)
    assert c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))
    assert c.fp_share == pytest.approx(2 / 3)
    assert M.image_metrics(np.array([1, 0]), np.array([1.0, 0.0]), 0.5).fp_share == 0.0


def test_size_classes_eq_14_15() -> None:
    mask = np.zeros((10, 10), np.uint8)
    mask[:2, :5] = 255
    assert M.area_ratio(mask) == pytest.approx(0.1)
    ratios = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    b1, b2 = M.size_bounds(ratios)
    assert (b1, b2) == pytest.approx(tuple(np.quantile(ratios, [0.333, 0.667])))
    assert [M.size_class(r, (b1, b2)) for r in ratios] == ["small"] * 2 + ["medium"] * 2 + [
        "large"
    ] * 2
    missed = np.array([True, False, False, True, True, True])
    assert M.fn_by_size(ratios, missed, (b1, b2)) == {"small": 1, "medium": 1, "large": 2}


def test_pixel_metrics_hand_case() -> None:
    # 4x4 map; one 2x2 defect region.
    scores = np.array(
        [[0.1, 0.1, 0.1, 0.1], [0.1, 0.9, 0.8, 0.1], [0.1, 0.7, 0.3, 0.6], [0.1, 0.1, 0.1, 0.1]]
    )
    regions = np.zeros((4, 4), np.int32)
    regions[1:3, 1:3] = 1
    acc = PixelAccumulator(n_bins=1024)
    acc.add(scores, regions)
    pm = M.pixel_metrics(acc.histograms())
    # Best IoU at threshold 0.3: predicts 0.9, 0.8, 0.7, 0.6, 0.3: TP 4, FP 1, FN 0 -> 4/5
    # (above 0.6 it would be TP 3, FN 1 -> 3/4).
    assert pm.counts.iou == pytest.approx(0.8)
    assert (pm.counts.tp, pm.counts.fp, pm.counts.fn) == (4, 1, 0)
    assert 0.1 < pm.threshold <= 0.3
    assert pm.counts.precision == pytest.approx(0.8) and pm.counts.recall == 1.0
    assert pm.counts.fp_share == 1.0
    # AUROC: positives 0.9 0.8 0.7 0.3 vs 12 negatives (0.6 and 11x 0.1): 0.3 beats 11 of 12.
    assert pm.auroc == pytest.approx((3 * 12 + 11) / 48)
    # PRO is 0.75 from FPR 0 to 1/12 (the 0.6 pixel), then 1.0 (the 0.3 pixel) up to 0.3.
    fpr_03 = 1 / 12
    area = 0.75 * fpr_03 + 1.0 * (0.3 - fpr_03)
    assert pm.aupro == pytest.approx(area / 0.3, abs=pm.aupro_bound + 1e-9)


# --------------------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize("seed", range(5))
def test_image_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    y = rng.random(n) < rng.uniform(0.1, 0.9)
    y[:2] = [True, False]
    s = rng.normal(size=n) + y * rng.uniform(0, 2)
    if seed % 2:
        s = np.round(s, 1)  # many ties
    assert M.auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert M.average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    fpr, tpr, thr = M.roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])


@pytest.mark.parametrize("n_bins", [256, 4096, 1 << 16])
def test_binned_pixel_metrics_within_bounds_of_sklearn(n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    acc = PixelAccumulator(n_bins=n_bins)
    ys, ss = [], []
    for _ in range(6):
        mask = np.zeros((64, 80), np.uint8)
        for _ in range(rng.integers(0, 3)):
            x, y = rng.integers(5, 70), rng.integers(5, 55)
            cv2.circle(mask, (int(x), int(y)), int(rng.integers(2, 8)), 255, -1)
        s = np.clip(rng.normal(0.3, 0.1, mask.shape) + (mask > 0) * 0.25, 0, 1)
        _, regions = cv2.connectedComponents((mask > 0).astype(np.uint8), connectivity=8)
        acc.add(s, regions)
        ys.append(mask.ravel() > 0)
        ss.append(s.ravel())
    y_all, s_all = np.concatenate(ys), np.concatenate(ss)
    pm = M.pixel_metrics(acc.histograms())
    exact_auroc = roc_auc_score(y_all, s_all)
    exact_ap = average_precision_score(y_all, s_all)
    assert abs(pm.auroc - exact_auroc) <= pm.auroc_bound + 1e-12
    assert pm.aupr_lo - 1e-12 <= exact_ap <= pm.aupr_hi + 1e-12
    if n_bins == 1 << 16:
        assert pm.auroc_bound < 1e-3 and pm.aupr_hi - pm.aupr_lo < 1e-2


def _exact_aupro(y_regions: list[np.ndarray], scores: list[np.ndarray], limit: float) -> float:
    """Reference: PRO at every distinct threshold, straight from the definition."""
    s_all = np.concatenate([s.ravel() for s in scores])
    neg = np.concatenate([(r.ravel() == 0) for r in y_regions])
    thresholds = np.unique(s_all)[::-1]
    comps = [
        (s[r == k]) for r, s in zip(y_regions, scores, strict=True) for k in np.unique(r[r > 0])
    ]
    fprs, pros = [0.0], [0.0]
    for t in thresholds:
        fprs.append(float(np.mean(s_all[neg] >= t)))
        pros.append(float(np.mean([np.mean(c >= t) for c in comps])))
    f, p = np.array(fprs), np.array(pros)
    k = int(np.searchsorted(f, limit))
    p_lim = p[k - 1] + (p[k] - p[k - 1]) * (limit - f[k - 1]) / (f[k] - f[k - 1])
    return float(np.trapezoid(np.r_[p[:k], p_lim], np.r_[f[:k], limit]) / limit)


def test_aupro_matches_definition() -> None:
    rng = np.random.default_rng(7)
    acc = PixelAccumulator(n_bins=1 << 14)
    regs, scs = [], []
    for i in range(4):
        mask = np.zeros((24, 24), np.uint8)
        cv2.rectangle(mask, (2 + i, 3), (8 + i, 9), 255, -1)
        cv2.circle(mask, (17, 16), 2 + i, 255, -1)
        s = np.round(rng.random(mask.shape) * 0.6 + (mask > 0) * rng.uniform(0.1, 0.4), 3)
        _, r = cv2.connectedComponents((mask > 0).astype(np.uint8), connectivity=8)
        acc.add(s, r)
        regs.append(r)
        scs.append(s)
    pm = M.pixel_metrics(acc.histograms())
    assert pm.n_regions == 8
    ref = _exact_aupro(regs, scs, 0.3)
    assert abs(pm.aupro - ref) <= pm.aupro_bound + 1e-9
    assert 0.0 < pm.aupro < 1.0


def test_accumulator_widens_range_exactly() -> None:
    acc = PixelAccumulator(n_bins=8)
    regions = np.array([[0, 1]])
    acc.add(np.array([[0.1, 0.9]]), regions)
    acc.add(np.array([[-0.5, 1.5]]), regions)  # outside [0, 1): widen to [-2, 2)? at least covers
    h = acc.histograms()
    assert acc.lo <= -0.5 and acc.hi > 1.5
    assert h.pos.sum() == 2 and h.neg.sum() == 2
    assert M.pixel_metrics(h).auroc == pytest.approx(1.0)


def test_groups_add_up() -> None:
    acc = PixelAccumulator(n_bins=64)
    acc.add(np.full((2, 2), 0.2), np.zeros((2, 2), int), group="good")
    acc.add(np.full((2, 2), 0.8), np.ones((2, 2), int), group="hole")
    assert acc.groups == ("good", "hole")
    both = acc.histograms()
    assert both.pos.sum() == 4 and both.neg.sum() == 4 and both.n_regions == 1
    assert acc.histograms(("hole",)).neg.sum() == 0
