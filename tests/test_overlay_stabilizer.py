"""The stabiliser on generated heatmap sequences: confirmation, hold, ids, smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from xrbridge.core.regions import RegionConfig, ViewPlacement, find_regions
from xrbridge.core.stabilizer import Stabilizer, StabilizerConfig, resample_closed
from xrbridge.errors import InputError

SIZE = (256, 128)  # view width, height (px); the map is 64x128 -> 2 px per map px


def _map(blobs, rng: np.random.Generator | None = None) -> np.ndarray:
    yy, xx = np.mgrid[:64, :128].astype(np.float32)
    m = np.zeros((64, 128), np.float32)
    for cx, cy, s, p in blobs:
        m = np.maximum(m, p * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)))
    if rng is not None:
        m += rng.normal(0, 0.02, m.shape).astype(np.float32)
    return np.clip(m, 0, 1)


def _run(frames, config=None, car=3):
    st = Stabilizer(config)
    out = []
    for i, blobs in enumerate(frames):
        # the car moves 8 px/frame to the left; uv coordinates stay put
        place = ViewPlacement(
            "lower_center", x=600.0 - 8 * i, y=40.0, width=SIZE[0], height=SIZE[1]
        )
        regions = find_regions(_map(blobs, np.random.default_rng(i)), place, RegionConfig())
        out.append(st.update(car, "lower_center", regions, SIZE))
    return st, out


def _confirmed_ids(frame_out) -> list[int]:
    return sorted(d.defect_id for d in frame_out if d.confirmed)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 3), (3, 5), (4, 6)])
def test_confirmed_after_n_of_m(n: int, m: int) -> None:
    frames = [[(40, 30, 4, 0.9)]] * 10
    _, out = _run(frames, StabilizerConfig(confirm_n=n, confirm_m=m))
    first = next(i for i, o in enumerate(out) if _confirmed_ids(o))
    assert first == n - 1
    assert all(_confirmed_ids(o) == [1] for o in out[first:])


def test_single_frame_flicker_is_never_confirmed() -> None:
    frames = [[(40, 30, 4, 0.9)] + ([(100, 40, 3, 0.8)] if i % 4 == 0 else []) for i in range(20)]
    st, out = _run(frames)
    assert {i for o in out for i in _confirmed_ids(o)} == {1}
    assert [d.defect_id for d in st.finish_car(3)] == [1]


def test_missed_detections_keep_the_id_and_hold_k() -> None:
    seen = [True] * 5 + [False, False, True, True] + [False] * 8
    frames = [[(40, 30, 4, 0.9)] if s else [] for s in seen]
    _, out = _run(frames, StabilizerConfig(keep_k=3))
    ids = [_confirmed_ids(o) for o in out]
    assert ids[2:12] == [[1]] * 10  # confirmed at 3rd frame, bridged the gap, held 3 after last
    assert ids[12:] == [[]] * 5
    assert [d.seen_now for d in out[5]] == [False]


def test_two_defects_two_stable_ids_and_evidence() -> None:
    frames = [[(30, 30, 4, 0.9), (90, 20, 5, 0.7 + 0.01 * i)] for i in range(12)]
    _, out = _run(frames)
    assert _confirmed_ids(out[-1]) == [1, 2]
    by_id = {d.defect_id: d for d in out[-1]}
    # the stronger one is confirmed first (regions come sorted by peak)
    assert by_id[1].peak_score > by_id[2].peak_score
    assert by_id[2].peak_score == pytest.approx(0.81, abs=0.06)  # max over frames (+ noise)
    assert by_id[1].hits == 12 and by_id[1].age_frames == 12
    assert 0.5 < by_id[2].mean_score < by_id[2].peak_score
    # every frame after confirmation shows the same ids at the same places
    for o in out[3:]:
        pos = {d.defect_id: d.centroid_uv for d in o}
        assert pos[1][0] < pos[2][0]


def test_contour_smoothing_reduces_jitter() -> None:
    rng = np.random.default_rng(5)
    frames = [[(60 + rng.normal(0, 1.5), 30 + rng.normal(0, 1.5), 5, 0.9)] for _ in range(30)]
    raw = []
    for i, blobs in enumerate(frames):
        place = ViewPlacement("lower_center", 0.0, 0.0, *SIZE)
        raw.append(
            find_regions(_map(blobs, np.random.default_rng(i)), place, RegionConfig())[
                0
            ].centroid_uv
        )
    _, out = _run(frames, StabilizerConfig(smooth_alpha=0.3))
    smooth = [o[0].centroid_uv for o in out]
    assert (
        np.std(np.array(smooth[5:]), axis=0).sum() < 0.6 * np.std(np.array(raw[5:]), axis=0).sum()
    )


def test_fragments_of_one_defect_do_not_spawn_a_second_id() -> None:
    # a bead gap that sometimes breaks into two components
    frames = [
        [(50, 30, 3, 0.9), (58, 30, 3, 0.9)] if i % 2 else [(54, 30, 5, 0.9)] for i in range(10)
    ]
    _, out = _run(frames)
    assert {i for o in out for i in _confirmed_ids(o)} == {1}


def test_finish_car_includes_defects_no_longer_held() -> None:
    frames = [[(30, 30, 4, 0.9)]] * 5 + [[(100, 30, 4, 0.9)]] * 12
    st, out = _run(frames, StabilizerConfig(keep_k=2))
    assert _confirmed_ids(out[-1]) == [2]
    done = st.finish_car(3)
    assert [d.defect_id for d in done] == [1, 2]
    assert st.finish_car(3) == [] and st.cars() == []


def test_resample_closed() -> None:
    sq = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    r = resample_closed(sq, 8)
    np.testing.assert_allclose(r, [[0, 0], [1, 0], [2, 0], [2, 1], [2, 2], [1, 2], [0, 2], [0, 1]])


def test_bad_config() -> None:
    with pytest.raises(InputError):
        StabilizerConfig(confirm_n=4, confirm_m=3)


@pytest.mark.parametrize(
    ("step", "confirmed"), [(0.0, True), (0.5, True), (4.0, False), (8.0, False)]
)
def test_things_moving_on_the_car_are_not_confirmed(step: float, confirmed: bool) -> None:
    # a reflection or cable shadow slides over the car by `step` map px per frame (x2 view px)
    frames = [[(20 + step * i, 30, 4, 0.9)] for i in range(10)]
    _, out = _run(frames)
    assert bool(_confirmed_ids(out[-1]) or any(_confirmed_ids(o) for o in out)) is confirmed


@pytest.mark.parametrize(
    ("peak", "min_peak", "confirmed"), [(0.52, 0.62, False), (0.58, 0.5, True), (0.75, 0.6, True)]
)
def test_weak_regions_need_min_peak(peak: float, min_peak: float, confirmed: bool) -> None:
    frames = [[(40, 30, 6, peak)]] * 8
    _, out = _run(frames, StabilizerConfig(min_peak=min_peak))
    assert bool(_confirmed_ids(out[-1])) is confirmed
