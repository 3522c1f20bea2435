"""Fixed sample messages: the source of the golden bytes in tests/golden/.

The Unity client stub decodes the same golden files, so both sides prove they
read the same bytes. Change these only together with the golden files
(``XRBRIDGE_UPDATE_GOLDEN=1 python -m pytest tests/test_wire_golden.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xrbridge.core.drift import DriftAlert
from xrbridge.core.types import Defect, Hint, OverlayFrame, TrackState
from xrbridge.core.verdict import CarVerdict, VerdictDefect, ViewCoverage


def sample_overlay() -> OverlayFrame:
    """A frame with a tracked car and two defects (one with hint, one without)."""
    track = TrackState(
        car_id=7, x=412.5, y=96.25, vx=-120.0, vy=0.5, t=12.375, view="lower_center", score=0.875
    )
    d1 = Defect(
        defect_id=1,
        view="lower_center",
        contour_px=np.array(
            [[500.0, 200.0], [520.0, 200.0], [520.0, 212.5], [500.0, 212.5]], np.float32
        ),
        contour_uv=np.array(
            [[0.25, 0.5], [0.3125, 0.5], [0.3125, 0.5625], [0.25, 0.5625]], np.float32
        ),
        bbox_px=(500.0, 200.0, 20.0, 12.5),
        centroid_px=(510.0, 206.25),
        centroid_uv=(0.28125, 0.53125),
        area_px=250.0,
        peak_score=0.9375,
        mean_score=0.71875,
        severity="high",
        age_frames=12,
        confirmed=True,
        hint=Hint(
            location="front-left",
            angle_deg=135.0,
            distance=84.5,
            distance_unit="px",
            moving_dir="left",
            speed=120.0,
            time_to_station_s=2.5,
        ),
        hits=10,
        area_mm2=None,
        size_class="medium",
        type_guess="missing",
        confidence=0.875,
    )
    d2 = Defect(
        defect_id=2,
        view="lower_center",
        contour_px=np.array([[600.0, 150.0], [606.0, 150.0], [603.0, 156.0]], np.float32),
        contour_uv=np.array([[0.5, 0.25], [0.515625, 0.25], [0.5078125, 0.28125]], np.float32),
        bbox_px=(600.0, 150.0, 6.0, 6.0),
        centroid_px=(603.0, 152.0),
        centroid_uv=(0.5078125, 0.2604166567325592),
        area_px=18.0,
        peak_score=0.5625,
        mean_score=0.53125,
        severity="low",
        age_frames=2,
        confirmed=False,
        hint=None,
        hits=2,
        area_mm2=4.5,
    )
    return OverlayFrame(
        stream_id="line-1",
        seq=1234,
        t_capture=41.125,
        t_emit=41.1875,
        model="patchcore",
        view="lower_center",
        track=track,
        image_score=0.8125,
        defects=(d1, d2),
    )


def sample_overlay_empty() -> OverlayFrame:
    """A frame without a view, a track, a score or defects (every optional absent)."""
    return OverlayFrame(
        stream_id="line-1",
        seq=1235,
        t_capture=41.15625,
        t_emit=41.16,
        model="patchcore",
        view=None,
        track=None,
        image_score=None,
    )


def sample_verdict() -> CarVerdict:
    """A NOK verdict: one defect, every view seen."""
    d = VerdictDefect(
        defect_id=1,
        view="lower_center",
        type_guess="missing",
        size_class="medium",
        severity="medium",
        confidence=0.875,
        centroid_ub=(706.25, 232.5),
        contour_ub=np.array(
            [[690.0, 226.0], [722.5, 226.0], [722.5, 239.0], [690.0, 239.0]], np.float32
        ),
        length_px=32.5,
        area_px=422.5,
        location="left",
        frames=14,
        travel_px=212.0,
        peak_score=0.8125,
        area_mm2=None,
    )
    cov = tuple(
        ViewCoverage(v, f, t, True)
        for v, f, t in (
            ("lower_front", 18, 250.0),
            ("lower_center", 17, 240.5),
            ("lower_back", 16, 231.25),
        )
    )
    return CarVerdict(
        stream_id="line-1",
        car_id=7,
        status="NOK",
        confidence=0.875,
        t_first=36.5,
        t_last=41.0,
        views_seen=("lower_front", "lower_center", "lower_back"),
        views_missing=(),
        defects=(d,),
        coverage=cov,
        reason="1 defect",
    )


def sample_verdict_incomplete() -> CarVerdict:
    """An INCOMPLETE verdict: no defect, but the back view was never seen."""
    return CarVerdict(
        stream_id="line-1",
        car_id=8,
        status="INCOMPLETE",
        confidence=0.6666666666666666,
        t_first=42.0,
        t_last=44.5,
        views_seen=("lower_front", "lower_center"),
        views_missing=("lower_back",),
        defects=(),
        coverage=(
            ViewCoverage("lower_front", 12, 180.0, True),
            ViewCoverage("lower_center", 11, 170.5, True),
            ViewCoverage("lower_back", 0, 0.0, False),
        ),
        reason="not seen: lower_back",
    )


def sample_overlay_verdict() -> OverlayFrame:
    """The empty frame carrying the two verdicts of cars that just left."""
    return dataclasses.replace(
        sample_overlay_empty(), verdicts=(sample_verdict(), sample_verdict_incomplete())
    )


SAMPLES = {
    "overlay_v1": sample_overlay,
    "overlay_v1_empty": sample_overlay_empty,
    "overlay_v1_verdicts": sample_overlay_verdict,
}
#: Verdicts on their own (JSONL, records; encoded with xrbridge.wire.verdict).
VERDICT_SAMPLES = {"verdict_v1": sample_verdict, "verdict_v1_incomplete": sample_verdict_incomplete}


def sample_alert_raised() -> DriftAlert:
    """Robot ``center_left`` drifting: 8 of the last 25 cars with a defect on its regions."""
    return DriftAlert(
        robot="center_left",
        state="raised",
        rate=0.32,
        defective=8,
        cars=25,
        car_id=131,
        stream_id="line",
        t=402.5,
        cars_seen=131,
        threshold=0.28,
    )


def sample_alert_cleared() -> DriftAlert:
    return dataclasses.replace(
        sample_alert_raised(),
        state="cleared",
        rate=0.08,
        defective=2,
        car_id=170,
        t=519.25,
        cars_seen=170,
        threshold=0.08,
    )


#: Drift alerts (encoded with xrbridge.wire.alert).
ALERT_SAMPLES = {
    "robot_alert_v1": sample_alert_raised,
    "robot_alert_v1_cleared": sample_alert_cleared,
}
