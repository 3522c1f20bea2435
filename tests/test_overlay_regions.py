"""Regions from generated heatmaps: components, contours, coordinates, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xrbridge.core.regions import (
    RegionConfig,
    ViewPlacement,
    check_map,
    find_regions,
    pixel_threshold,
)
from xrbridge.errors import ArtifactError, InputError

PLACE = ViewPlacement("lower_center", x=100.0, y=50.0, width=256, height=128)


def _blob_map(shape=(64, 128), blobs=((30, 20, 6, 0.9),)) -> np.ndarray:
    """Gaussian blobs (cx, cy, sigma, peak) on a zero background, normalised-score style."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    m = np.zeros(shape, np.float32)
    for cx, cy, s, p in blobs:
        m = np.maximum(m, p * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)))
    return m


@pytest.mark.parametrize("n_blobs", [0, 1, 2, 3])
def test_one_region_per_blob(n_blobs: int) -> None:
    blobs = [(20 + 35 * i, 30, 5, 0.8 + 0.05 * i) for i in range(n_blobs)]
    regions = find_regions(_blob_map(blobs=blobs), PLACE, RegionConfig())
    assert len(regions) == n_blobs
    assert [r.peak_score for r in regions] == sorted((r.peak_score for r in regions), reverse=True)


def test_coordinates_frame_and_uv_agree() -> None:
    m = np.zeros((64, 128), np.float32)
    m[16:32, 32:64] = 0.8  # map px -> view px x2 in both axes
    (r,) = find_regions(m, PLACE, RegionConfig())
    # centroid of the rectangle: map (47.5+0.5, 23.5+0.5) -> uv (48/128, 24/64)
    assert r.centroid_uv == pytest.approx((48 / 128, 24 / 64), abs=1e-6)
    assert r.centroid_px == pytest.approx((100 + 48 / 128 * 256, 50 + 24 / 64 * 128), abs=1e-4)
    assert r.bbox_px == pytest.approx((100 + 64, 50 + 32, 64, 32))
    assert r.area_px == pytest.approx(16 * 32 * 4)
    assert r.area_uv == pytest.approx(16 * 32 / (64 * 128))
    assert r.peak_score == pytest.approx(0.8) and r.mean_score == pytest.approx(0.8)
    np.testing.assert_allclose(r.contour_px, PLACE.uv_to_px(r.contour_uv), atol=1e-4)
    # the polygon through boundary pixel centres: area close to the true rectangle's
    poly_area = cv2.contourArea(r.contour_px.astype(np.float32))
    assert 0.8 * 64 * 32 < poly_area <= 64 * 32


@pytest.mark.parametrize("max_vertices", [4, 8, 16, 32])
def test_vertex_budget(max_vertices: int) -> None:
    yy, xx = np.mgrid[:64, :128]
    star = ((np.arctan2(yy - 32, xx - 64) * 7) % (2 * np.pi) < np.pi) & (
        np.hypot(yy - 32, xx - 64) < 28
    )
    m = np.where(star | (np.hypot(yy - 32, xx - 64) < 10), 0.9, 0.0).astype(np.float32)
    regions = find_regions(m, PLACE, RegionConfig(max_vertices=max_vertices))
    assert regions and all(3 <= len(r.contour_uv) <= max_vertices for r in regions)


def test_roi_and_threshold_and_min_area() -> None:
    m = _blob_map(blobs=[(20, 30, 5, 0.9), (100, 30, 5, 0.9)])
    roi = np.zeros(m.shape, np.uint8)
    roi[:, :64] = 255
    assert len(find_regions(m, PLACE, RegionConfig(), roi=roi)) == 1
    assert find_regions(m, PLACE, RegionConfig(threshold=0.95)) == []
    assert find_regions(m, PLACE, RegionConfig(min_area_px=1e6)) == []


def test_mm_scale() -> None:
    m = np.zeros((64, 128), np.float32)
    m[10:20, 10:20] = 0.7
    (r,) = find_regions(m, PLACE, RegionConfig(mm_per_px=0.5))
    assert r.area_mm2 == pytest.approx(r.area_px * 0.25)


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (np.zeros((64,), np.float32), "must be \\(H, W\\) float"),
        (np.zeros((64, 128), np.uint8), "must be \\(H, W\\) float"),
        (np.full((64, 128), np.nan, np.float32), "NaN"),
        (np.zeros((32, 32), np.float32), "must be \\(64, 128\\)"),
    ],
)
def test_bad_maps_raise(bad: np.ndarray, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        find_regions(bad, PLACE, RegionConfig(), roi=np.ones((64, 128), np.uint8))


def test_one_nan_is_not_ignored() -> None:
    m = np.zeros((8, 8), np.float32)
    m[3, 3] = np.inf
    with pytest.raises(InputError, match="1 NaN/inf"):
        check_map(m)


@pytest.mark.parametrize(
    ("manifest", "ok"),
    [
        ({"thresholds": {"image": 0.5, "pixel": 0.5}}, True),
        ({"thresholds": {"image": 0.5}}, False),
        ({}, False),
        ({"thresholds": {"pixel": "0.5"}}, False),
        ({"thresholds": {"pixel": 1.5}}, False),
    ],
)
def test_pixel_threshold_from_manifest(manifest: dict, ok: bool) -> None:
    if ok:
        assert pixel_threshold(manifest) == 0.5
    else:
        with pytest.raises(ArtifactError, match=r"thresholds\.pixel"):
            pixel_threshold(manifest)
