"""Direction hints for the operator: where a defect is, where it goes, when it arrives.

No I/O. The reference point of a view is its centre (u = v = 0.5). Directions
are the car's own: "front" is towards the front bumper (u decreasing), "left"
and "right" the car's sides. With the camera looking up at the underbody and
the car's front pointing to the image's left (cars move right to left), the
car's left side appears at the top of the image (small v) - the image is
mirrored relative to a top view. ``HintConfig.left_is_small_v`` flips that for
a camera mounted the other way.

``angle_deg`` is measured from "front" counter-clockwise in the car's top
view: 0 front, 90 left, 180 back, 270 right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xrbridge.core.types import Hint, TrackState

_SECTORS = (
    "front",
    "front-left",
    "left",
    "back-left",
    "back",
    "back-right",
    "right",
    "front-right",
)


@dataclass(frozen=True, slots=True)
class HintConfig:
    """Hint parameters.

    ``station_x_px``: x (frame px, may lie outside the frame) of the correction
    station along the conveyor; None: no time-to-station. ``mm_per_px``:
    optional scale for distances and speeds. ``still_speed_px_s``: below this
    conveyor speed the car counts as standing (no time-to-station).
    ``centre_fraction``: a defect closer to the reference point than this
    fraction of the view's half-diagonal is "centre".
    """

    station_x_px: float | None = None
    mm_per_px: float | None = None
    still_speed_px_s: float = 5.0
    centre_fraction: float = 0.15
    left_is_small_v: bool = True


def sector(angle_deg: float) -> str:
    """The 8-sector word for ``angle_deg`` (0 front, counter-clockwise: 90 left)."""
    return _SECTORS[int(((angle_deg + 22.5) % 360.0) // 45.0)]


def _moving_dir(vx: float, vy: float, still: float) -> str:
    if math.hypot(vx, vy) < still:
        return "still"
    if abs(vx) >= abs(vy):
        return "left" if vx < 0 else "right"
    return "up" if vy < 0 else "down"


def make_hint(
    centroid_uv: tuple[float, float],
    centroid_px: tuple[float, float],
    view_size_px: tuple[int, int],
    track: TrackState | None,
    t: float,
    config: HintConfig | None = None,
) -> Hint:
    """The hint for a defect at ``centroid_uv`` (view-normalised) / ``centroid_px`` (frame).

    Args:
        centroid_uv: (u, v) in [0, 1] over the view.
        centroid_px: (x, y) frame px at time ``t``.
        view_size_px: the view's (width, height) in px.
        track: the car's state (velocity in px/s); None: the defect counts as still.
        t: the time ``centroid_px`` is for, s; ``track`` is extrapolated to it.
        config: station position, scale, thresholds.
    """
    c = config or HintConfig()
    w, h = view_size_px
    du = (centroid_uv[0] - 0.5) * w  # + towards the back
    dv = (centroid_uv[1] - 0.5) * h  # + towards large v
    front = -du
    left = -dv if c.left_is_small_v else dv
    angle = math.degrees(math.atan2(left, front)) % 360.0
    dist_px = math.hypot(du, dv)
    location = "centre" if dist_px < c.centre_fraction * 0.5 * math.hypot(w, h) else sector(angle)
    scale = c.mm_per_px if c.mm_per_px is not None else 1.0
    vx, vy = (track.vx, track.vy) if track is not None else (0.0, 0.0)
    moving = _moving_dir(vx, vy, c.still_speed_px_s)
    time_to_station: float | None = None
    if c.station_x_px is not None and moving in ("left", "right"):
        eta = (c.station_x_px - centroid_px[0]) / vx
        time_to_station = eta if eta >= 0.0 else None
    return Hint(
        location=location,
        angle_deg=round(angle, 3),
        distance=dist_px * scale,
        distance_unit="mm" if c.mm_per_px is not None else "px",
        moving_dir=moving,
        speed=abs(vx) * scale,
        time_to_station_s=time_to_station,
    )
