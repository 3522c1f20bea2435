"""Template matching and ROI masks on generated frames (real OpenCV)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from track_synth import VIEWS_LAYOUT, make_underbody, templates_for

from xrbridge.core.matching import MatchConfig, TemplateMatcher, ViewTemplate, templates_from_arrays
from xrbridge.core.roi import apply_roi, roi_for_view, roi_from_paths, roi_in_frame, widen
from xrbridge.errors import ImageError, InputError, TemplateError

SIZE = (640, 360)


def scene_frame(
    ub: np.ndarray,
    placements: list[tuple[float, float]],
    gain: float = 1.0,
    ramp: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = SIZE
    frame = np.full((h, w, 3), 55, np.uint8)
    for x, y in placements:
        m = np.array([[1, 0, x], [0, 1, y]], dtype=np.float32)
        mask = cv2.warpAffine(np.full(ub.shape[:2], 255, np.uint8), m, SIZE)
        warped = cv2.warpAffine(ub, m, SIZE, flags=cv2.INTER_LINEAR)
        frame[mask > 127] = warped[mask > 127]
    f = (
        frame.astype(np.float32) * gain
        + np.linspace(-ramp, ramp, w, dtype=np.float32)[None, :, None]
    )
    return np.clip(f + rng.normal(0, 2, f.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def ub() -> np.ndarray:
    return make_underbody(5)


@pytest.fixture(scope="module")
def matchers(ub: np.ndarray) -> dict[str, TemplateMatcher]:
    images, meta = templates_for(ub)
    tpl = templates_from_arrays(images, meta)
    out = {r: TemplateMatcher(tpl, MatchConfig(representation=r)) for r in ("grad", "gray")}
    out["grad-full-res"] = TemplateMatcher(tpl, MatchConfig(fine_scale=1.0))
    return out


@pytest.mark.parametrize("rep", ["grad", "gray", "grad-full-res"])
@pytest.mark.parametrize(("gain", "ramp"), [(1.0, 0.0), (0.6, 0.0), (1.4, 30.0), (0.8, -40.0)])
def test_window_search_finds_subpixel_position_under_lighting(
    matchers, ub, rep, gain, ramp
) -> None:
    """Sub-pixel at the default fine_scale 0.5 (scaled back) as at full resolution."""
    m = matchers[rep]
    x, y = 123.4, 97.7
    rep_img = m.prepare(scene_frame(ub, [(x, y)], gain, ramp))
    for view in m.views:
        t = m.templates[view]
        if x + t.u0 + t.width > SIZE[0]:
            continue
        res = m.search_window(rep_img, view, x + t.u0 + 7, y + t.v0 - 5, 12)
        assert res is not None and res.full
        assert res.match.score > 0.85
        assert abs(res.match.x - (x + t.u0)) < 0.4
        assert abs(res.match.y - (y + t.v0)) < 0.4


def test_partial_view_at_the_edge_is_measured(matchers, ub) -> None:
    m = matchers["grad"]
    t = m.templates["lower_front"]
    x = SIZE[0] - t.u0 - 0.6 * t.width  # 60 % of lower_front inside on the right
    rep_img = m.prepare(scene_frame(ub, [(x, 90.0)]))
    res = m.search_window(rep_img, "lower_front", x + t.u0 - 4, 90.0 + t.v0 + 3, 10)
    assert res is not None and not res.full
    assert abs(res.match.x - (x + t.u0)) < 0.5
    # Only 20 % inside: below min_visible, nothing is searched.
    x2 = SIZE[0] - t.u0 - 0.2 * t.width
    assert (
        m.search_window(
            m.prepare(scene_frame(ub, [(x2, 90.0)])), "lower_front", x2 + t.u0, 90 + t.v0, 10
        )
        is None
    )


def test_frame_search_finds_every_car_and_honours_exclusion(matchers, ub) -> None:
    m = matchers["grad"]
    t = m.templates["lower_front"]
    a, b = (20.0 - t.u0, 10.0), (330.0 - t.u0, 200.0)
    small_ub = ub[:150]  # the two placements must not overlap
    rep_img = m.prepare(scene_frame(small_ub, [a, b]))
    found = m.search_frame(rep_img, "lower_front")
    got = sorted((round(f.x), round(f.y)) for f in found if f.score > 0.8)
    assert got == [(20, 10 + t.v0), (330, 200 + t.v0)]
    found = m.search_frame(rep_img, "lower_front", exclude=[(20.0, 10.0 + t.v0)])
    assert [(round(f.x), round(f.y)) for f in found] == [(330, 200 + t.v0)]


def test_threshold_rejects_frames_without_the_view(matchers) -> None:
    rng = np.random.default_rng(1)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (SIZE[1], SIZE[0], 3), dtype=np.uint8), (5, 5), 0)
    m = matchers["grad"]
    rep_img = m.prepare(noise)
    for view in m.views:
        assert m.search_frame(rep_img, view) == []
        assert m.search_window(rep_img, view, 100, 100, 20) is None


def test_bad_templates_are_template_errors(ub) -> None:
    with pytest.raises(TemplateError, match="no view templates"):
        TemplateMatcher([])
    with pytest.raises(TemplateError, match="hxwx3 uint8"):
        ViewTemplate("lower_front", np.zeros((20, 20), np.uint8), 0, 0)
    with pytest.raises(TemplateError, match="view must be one of"):
        ViewTemplate("upper", np.zeros((20, 20, 3), np.uint8), 0, 0)
    images, meta = templates_for(ub)
    m = TemplateMatcher(templates_from_arrays(images, meta))
    with pytest.raises(TemplateError, match=r"larger than the 100x100 frame"):
        m.check_frame_size(100, 100)
    meta = {k: dict(v) for k, v in meta.items()}
    meta["lower_back"]["width"] = 10
    with pytest.raises(TemplateError, match=r"views\.json says"):
        templates_from_arrays(images, meta)
    with pytest.raises(TemplateError, match="threshold"):
        MatchConfig(threshold=1.5)


def test_roi_from_paths_width_is_bead_plus_two_margins() -> None:
    line = np.array([[10.0, 50.0], [190.0, 50.0]])
    for margin in (0, 3, 8):
        mask = roi_from_paths((200, 100), [line], 6, margin)
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
        col = mask[:, 100] > 0
        assert abs(int(col.sum()) - (6 + 2 * margin)) <= 1
        assert col[50]
    with pytest.raises(InputError, match="margin"):
        roi_from_paths((200, 100), [line], 6, -1)
    with pytest.raises(InputError, match="one bead width per polyline"):
        roi_from_paths((200, 100), [line, line], [6], 2)


def test_roi_for_view_uses_template_coordinates() -> None:
    u0, v0, w, h = VIEWS_LAYOUT["lower_center"]
    meta = {"u0": u0, "v0": v0, "width": w, "height": h}
    regions = [{"polyline_ub": [[u0 + 20, v0 + 30], [u0 + 120, v0 + 30]], "bead_width": 4}]
    mask = roi_for_view(meta, regions, margin=2)
    assert mask.shape == (h, w)
    ys, xs = np.nonzero(mask)
    assert abs(ys.mean() - 30) < 0.6 and xs.min() <= 20 and xs.max() >= 120


def test_apply_roi_same_at_training_and_inference() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(1, 255, (60, 80, 3), dtype=np.uint8)
    mask = np.zeros((60, 80), np.uint8)
    mask[20:40, 10:70] = 255
    out = apply_roi(img, mask)
    assert (out[mask == 0] == 0).all() and (out[mask > 0] == img[mask > 0]).all()
    # A model input resized from the crop gets the same mask, resized (nearest).
    small = cv2.resize(img, (40, 30), interpolation=cv2.INTER_AREA)
    out_small = apply_roi(small, mask)
    assert np.array_equal(
        out_small > 0,
        (cv2.resize(mask, (40, 30), interpolation=cv2.INTER_NEAREST) > 0)[..., None] & (small > 0),
    )
    assert np.array_equal(
        cv2.resize(out, (40, 30), interpolation=cv2.INTER_NEAREST) > 0,
        apply_roi(cv2.resize(img, (40, 30), interpolation=cv2.INTER_NEAREST), mask) > 0,
    )
    with pytest.raises(ImageError):
        apply_roi(img, np.zeros((60, 80, 3), np.uint8))
    assert widen(mask, 2).sum() > mask.sum()


def test_roi_in_frame_places_and_clips() -> None:
    mask = np.full((10, 20), 255, np.uint8)
    out = roi_in_frame(mask, 95.4, -3.0, (100, 50))
    assert out.shape == (50, 100)
    assert out[0:7, 95:100].all() and out.sum() == 255 * 7 * 5
    assert roi_in_frame(mask, 500, 500, (100, 50)).sum() == 0
