"""Severity levels and direction hints, table-driven."""

from __future__ import annotations

import pytest

from xrbridge.core.hints import HintConfig, make_hint
from xrbridge.core.severity import SeverityConfig, severity
from xrbridge.core.types import TrackState
from xrbridge.errors import InputError


@pytest.mark.parametrize(
    ("score", "area", "want"),
    [
        (0.55, 0.0005, "low"),
        (0.75, 0.0005, "medium"),
        (0.9, 0.0005, "high"),
        (0.55, 0.005, "medium"),
        (0.55, 0.05, "medium"),  # size alone lifts a faint region to medium at most
        (0.75, 0.05, "high"),
        (0.5, 0.0, "low"),
    ],
)
def test_severity_table(score: float, area: float, want: str) -> None:
    assert severity(score, area) == want


def test_severity_config_checked() -> None:
    with pytest.raises(InputError):
        SeverityConfig(medium_score=0.9, high_score=0.8)
    with pytest.raises(InputError):
        severity(1.5, 0.1)


CAR = TrackState(car_id=1, x=300.0, y=100.0, vx=-100.0, vy=0.0, t=0.0)


@pytest.mark.parametrize(
    ("uv", "location", "angle"),
    [
        ((0.1, 0.5), "front", 0.0),
        ((0.1, 0.1), "front-left", 45.0),  # small v = the car's left
        ((0.5, 0.1), "left", 90.0),
        ((0.9, 0.1), "back-left", 135.0),
        ((0.9, 0.5), "back", 180.0),
        ((0.9, 0.9), "back-right", 225.0),
        ((0.5, 0.9), "right", 270.0),
        ((0.1, 0.9), "front-right", 315.0),
        ((0.52, 0.49), "centre", None),
    ],
)
def test_location_and_angle(uv: tuple[float, float], location: str, angle: float | None) -> None:
    h = make_hint(uv, (0.0, 0.0), (200, 200), CAR, 0.0)
    assert h.location == location
    if angle is not None:
        assert h.angle_deg == pytest.approx(angle)
        assert h.distance == pytest.approx(((uv[0] - 0.5) ** 2 + (uv[1] - 0.5) ** 2) ** 0.5 * 200)


@pytest.mark.parametrize(
    ("vx", "vy", "x", "station", "moving", "eta"),
    [
        (-100.0, 0.0, 500.0, 100.0, "left", 4.0),
        (-100.0, 0.0, 50.0, 100.0, "left", None),  # already past the station
        (100.0, 0.0, 50.0, 250.0, "right", 2.0),
        (0.0, 0.0, 500.0, 100.0, "still", None),
        (0.0, -50.0, 500.0, 100.0, "up", None),
        (-100.0, 0.0, 500.0, None, "left", None),  # no station configured
    ],
)
def test_motion_and_time_to_station(vx, vy, x, station, moving, eta) -> None:
    tr = TrackState(car_id=1, x=0.0, y=0.0, vx=vx, vy=vy, t=0.0)
    h = make_hint((0.5, 0.5), (x, 10.0), (100, 100), tr, 0.0, HintConfig(station_x_px=station))
    assert h.moving_dir == moving
    assert h.speed == pytest.approx(abs(vx))
    assert h.time_to_station_s == (None if eta is None else pytest.approx(eta))


def test_mm_units() -> None:
    h = make_hint((0.9, 0.5), (0.0, 0.0), (100, 100), CAR, 0.0, HintConfig(mm_per_px=2.0))
    assert (
        h.distance_unit == "mm"
        and h.distance == pytest.approx(80.0)
        and h.speed == pytest.approx(200.0)
    )
