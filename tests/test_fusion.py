"""Evidence fused on the car (xrbridge.core.fusion), with generated anomaly maps.

A conveyor is simulated as data only: a car's origin moves left at a given
speed, each view is inferred while fully in the frame, and the model's map
is drawn by hand: a blob fixed on the car (a defect), a blob fixed in the
frame (a cable the car slides under), nothing (a clean car).
"""

from __future__ import annotations

import numpy as np
import pytest

from xrbridge.core.fusion import Fusion, FusionConfig, Observation, ViewGeometry
from xrbridge.errors import InputError

VIEWS = {
    "lower_front": ViewGeometry("lower_front", 30, 20, 520, 400),
    "lower_center": ViewGeometry("lower_center", 560, 20, 520, 400),
    "lower_back": ViewGeometry("lower_back", 1090, 20, 520, 400),
}
FRAME = (848, 480)
MAP = (200, 260)  # map (h, w): half the view's resolution


def _blob(cx: float, cy: float, r: float = 8.0, peak: float = 0.9) -> np.ndarray:
    """A map with a Gaussian blob at view px (cx, cy)."""
    h, w = MAP
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    d2 = (xs * 2 + 1 - cx) ** 2 + (ys * 2 + 1 - cy) ** 2
    return (0.3 + (peak - 0.3) * np.exp(-d2 / (2 * r * r))).astype(np.float32)


def _quiet() -> np.ndarray:
    return np.full(MAP, 0.3, np.float32)


def _drive(fusion: Fusion, car: int, views, speed=420.0, fps=30.0, map_fn=None, t0=0.0):
    """Move the car across the frame; infer each view while it is fully visible."""
    t = t0
    x = float(FRAME[0])  # underbody origin, frame px
    step = speed / fps
    while x + 1700 > 0:
        for v in views:
            g = VIEWS[v]
            cx = x + g.u0
            if cx >= 0 and cx + g.width <= FRAME[0] and speed >= 0:
                m = map_fn(v, x) if map_fn else _quiet()
                ob = Observation(v, cx, 40.0, 0.9, (-speed, 0.0), t, FRAME)
                fusion.update(car, ob, m)
                break
        x -= step
        t += 1 / fps
    return t


def test_defect_fixed_on_the_car_is_confirmed_once_where_it_is() -> None:
    f = Fusion(VIEWS)
    # a defect at view px (200, 150) of lower_center
    _drive(
        f, 1, list(VIEWS), map_fn=lambda v, x: _blob(200, 150) if v == "lower_center" else _quiet()
    )
    ds = f.defects(1)
    assert [d.defect_id for d in ds] == [1]
    d = ds[0]
    assert d.view == "lower_center" and d.confirmed
    assert abs(d.centroid_uv[0] * 520 - 200) < 6 and abs(d.centroid_uv[1] * 400 - 150) < 6
    assert d.frames >= 4 and d.travel_px >= 60
    v = f.finish(1, "s", 0.0, 5.0)
    assert v.status == "NOK" and len(v.defects) == 1 and v.views_missing == ()
    vd = v.defects[0]
    assert abs(vd.centroid_ub[0] - 760) < 6 and abs(vd.centroid_ub[1] - 170) < 6
    assert vd.size_class in ("small", "medium", "large") and 0.5 <= vd.confidence <= 1.0


def test_blob_fixed_in_the_frame_slides_over_the_car_and_is_never_confirmed() -> None:
    f = Fusion(VIEWS)

    def cable(v: str, x: float) -> np.ndarray:
        # the cable hangs at frame x = 420: in view px it moves with the car
        return _blob(420 - (x + VIEWS[v].u0), 200, r=10.0, peak=0.95)

    _drive(f, 1, list(VIEWS), map_fn=cable)
    assert f.defects(1) == []
    v = f.finish(1, "s", 0.0, 5.0)
    assert v.status == "OK" and v.views_missing == ()


def test_a_standing_car_needs_travel_not_only_frames() -> None:
    cfg = FusionConfig()
    f = Fusion(VIEWS, config=cfg)
    g = VIEWS["lower_front"]
    for i in range(30):  # 30 identical frames of a car that does not move
        ob = Observation("lower_front", 100.0, 40.0, 0.9, (0.0, 0.0), i / 30, FRAME)
        f.update(1, ob, _blob(300, 100))
    assert f.defects(1) == []
    for i in range(8):  # the belt starts again: the blob stays on the car
        cx = 100.0 - 15 * (i + 1)
        ob = Observation("lower_front", cx, 40.0, 0.9, (-450.0, 0.0), 1 + i / 30, FRAME)
        f.update(1, ob, _blob(300, 100))
    assert [d.defect_id for d in f.defects(1)] == [1]
    assert g.u0 == 30


def test_clean_car_is_ok_and_a_view_never_shown_is_incomplete() -> None:
    f = Fusion(VIEWS)
    _drive(f, 1, list(VIEWS))
    ok = f.finish(1, "s", 0.0, 5.0)
    assert ok.status == "OK" and ok.defects == () and 0.5 <= ok.confidence <= 1.0
    _drive(f, 2, ["lower_front", "lower_center"])  # lower_back never matched
    inc = f.finish(2, "s", 0.0, 5.0)
    assert inc.status == "INCOMPLETE"
    assert inc.views_missing == ("lower_back",) and "lower_back" in inc.reason
    assert inc.confidence == pytest.approx(2 / 3)


def test_track_lost_and_found_gives_two_partial_verdicts_never_ok() -> None:
    f = Fusion(VIEWS)
    t = _drive(f, 1, ["lower_front"])
    first = f.finish(1, "s", 0.0, t, lost=True)
    _drive(f, 2, ["lower_center", "lower_back"], t0=t)
    second = f.finish(2, "s", t, 2 * t)
    assert first.status == second.status == "INCOMPLETE"
    assert set(first.views_missing) == {"lower_center", "lower_back"}
    assert "track lost" in first.reason
    assert second.views_missing == ("lower_front",)


def test_defect_seen_in_one_view_is_nok_even_when_another_view_is_missing() -> None:
    f = Fusion(VIEWS)
    _drive(
        f,
        1,
        ["lower_front", "lower_center"],
        map_fn=lambda v, x: _blob(120, 300) if v == "lower_front" else _quiet(),
    )
    v = f.finish(1, "s", 0.0, 5.0)
    assert v.status == "NOK" and v.views_missing == ("lower_back",)
    assert "not seen: lower_back" in v.reason


@pytest.mark.parametrize(
    ("amap", "needle"),
    [
        (np.full(MAP, np.nan, np.float32), "NaN"),
        (np.zeros((3, *MAP), np.float32), r"must be \(H, W\)"),
        (np.zeros(MAP, np.int32), r"must be \(H, W\) float"),
    ],
)
def test_bad_maps_are_clear_errors(amap: np.ndarray, needle: str) -> None:
    f = Fusion(VIEWS)
    ob = Observation("lower_front", 100.0, 40.0, 0.9, (-400.0, 0.0), 0.0, FRAME)
    with pytest.raises(InputError, match=needle):
        f.update(1, ob, amap)


def test_unknown_view_and_bad_config_are_errors() -> None:
    f = Fusion({"lower_front": VIEWS["lower_front"]})
    ob = Observation("lower_back", 100.0, 40.0, 0.9, (-400.0, 0.0), 0.0, FRAME)
    with pytest.raises(InputError, match="no geometry for view 'lower_back'"):
        f.update(1, ob, _quiet())
    with pytest.raises(InputError, match="min_frames"):
        FusionConfig(min_frames=0)


# ------------------------------------------------------------ bead-width evidence


def _near_threshold_stretch(v: str, x: float) -> np.ndarray:
    """A model map just under the threshold (0.47 < 0.5) over a stretch of bead in lower_back."""
    m = _quiet()
    if v == "lower_back":
        m[70:76, 80:110] = 0.47  # view px x 160..220, y 140..152
    return m


def _bead_ratio(thin: float) -> np.ndarray:
    """Bead ratios on the fusion grid: a bead along view y 146, ``thin`` over x 160..220."""
    r = np.full((100, 130), np.nan, np.float32)
    r[36, 10:120] = 1.0
    r[36, 40:55] = thin
    return r


def _drive_beads(f: Fusion, thin: float | None) -> None:
    x = float(FRAME[0])
    t = 0.0
    g = VIEWS["lower_back"]
    while x + 1700 > 0:
        cx = x + g.u0
        if cx >= 0 and cx + g.width <= FRAME[0]:
            ob = Observation("lower_back", cx, 40.0, 0.9, (-420.0, 0.0), t, FRAME)
            f.update(
                1,
                ob,
                _near_threshold_stretch("lower_back", x),
                _bead_ratio(thin) if thin is not None else None,
            )
        x -= 14.0
        t += 1 / 30


def test_thin_bead_near_the_threshold_is_confirmed_as_a_narrowing() -> None:
    f = Fusion(VIEWS)
    _drive_beads(f, 0.5)
    ds = f.defects(1)
    assert len(ds) == 1 and ds[0].type_guess == "narrowing"
    assert abs(ds[0].centroid_uv[0] * 520 - 190) < 20


@pytest.mark.parametrize(
    "thin, config",
    [
        (None, FusionConfig()),  # no bead evidence: the map alone stays under threshold + margin
        (1.0, FusionConfig()),  # the bead is as wide as the template's
        (0.5, FusionConfig(thin_ratio=0.0)),  # channel off
    ],
)
def test_near_threshold_map_alone_or_wide_bead_is_not_confirmed(
    thin: float | None, config: FusionConfig
) -> None:
    f = Fusion(VIEWS, config=config)
    _drive_beads(f, thin)
    assert f.defects(1) == []


def test_bead_ratio_of_the_wrong_shape_is_an_input_error() -> None:
    f = Fusion(VIEWS)
    ob = Observation("lower_back", 100.0, 40.0, 0.9, (-420.0, 0.0), 0.0, FRAME)
    assert f.grid_shape("lower_back") == (100, 130)
    with pytest.raises(InputError, match="bead_ratio"):
        f.update(1, ob, _quiet(), np.ones((10, 10), np.float32))
