"""Domain values shared by the core, the codecs and the servers.

One dataclass per value, arrays with documented shapes, checked in
``__post_init__``. The protobuf messages (protos/xrbridge/v1) and the msgpack
messages for the HoloLens are both encoded from these classes with the same
field names, so the two streams cannot drift.

Coordinates:
- frame pixels: x to the right, y down, origin at the frame's top-left.
- underbody pixels: (u, v) in the underbody image of the car; u runs from the
  front bumper (u = 0) to the back, v across the car. Cars move right to left
  in the frame, front first, so frame = underbody origin + (u, v).
- view-normalised: (u, v) in [0, 1] over one view's template.
Times are seconds (float) on the capture clock of the stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xrbridge.core.verdict import CarVerdict
from xrbridge.errors import InputError
from xrbridge.names import SEVERITIES, VIEWS

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Frame:
    """One camera frame. ``pixels``: (H, W, 3) uint8 BGR."""

    stream_id: str
    seq: int
    t_capture: float
    pixels: np.ndarray

    def __post_init__(self) -> None:
        p = self.pixels
        if not isinstance(p, np.ndarray) or p.dtype != np.uint8 or p.ndim != 3 or p.shape[2] != 3:
            got = (getattr(p, "shape", None), getattr(p, "dtype", type(p).__name__))
            raise InputError(f"frame must be HxWx3 uint8, got {got[0]} {got[1]}")


@dataclass(frozen=True, slots=True)
class ViewMatch:
    """A template match: the view's template top-left at (x, y) in frame pixels."""

    view: str
    score: float
    x: float
    y: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise InputError(f"view must be one of {VIEWS}, got {self.view!r}")


@dataclass(frozen=True, slots=True)
class TrackState:
    """A car's filtered state: underbody origin (x, y) in frame px, velocity in px/s.

    ``t`` is the time the state is for (a prediction may be later than the
    last frame: latency compensation).
    """

    car_id: int
    x: float
    y: float
    vx: float
    vy: float
    t: float
    view: str | None = None
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Hint:
    """Where a defect is and where it goes, for the operator."""

    location: str  # e.g. "front-left" on the underbody
    angle_deg: float  # from the view's reference point, 0 = towards the front, counter-clockwise
    distance: float  # from the view's reference point, in ``distance_unit``
    distance_unit: str  # "px" or "mm"
    moving_dir: str  # e.g. "left"
    speed: float  # along the conveyor, px/s (or mm/s with a scale)
    time_to_station_s: float | None  # None when the car is past or not moving


@dataclass(frozen=True, slots=True)
class Defect:
    """A confirmed (or candidate) anomaly region on one car.

    ``contour_px``: (N, 2) float32 frame pixels; ``contour_uv``: (N, 2) float32
    view-normalised underbody coordinates in [0, 1].
    """

    defect_id: int
    view: str
    contour_px: np.ndarray
    contour_uv: np.ndarray
    bbox_px: tuple[float, float, float, float]  # x, y, w, h
    centroid_px: tuple[float, float]
    centroid_uv: tuple[float, float]
    area_px: float
    peak_score: float  # normalised, 0.5 = the manifest's pixel threshold
    mean_score: float
    severity: str
    age_frames: int
    confirmed: bool
    hint: Hint | None = None
    hits: int = 0  # frames the defect was observed in (evidence)
    area_mm2: float | None = None  # None when no mm scale is configured
    size_class: str = ""  # "small" | "medium" | "large" from the size on the underbody ("" unknown)
    type_guess: str = ""  # a defect type name or "unknown" ("" when not guessed)
    confidence: float = 0.0  # [0, 1], how far the fused evidence went past the gates

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise InputError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        for name in ("contour_px", "contour_uv"):
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.ndim != 2 or a.shape[1] != 2:
                raise InputError(f"{name} must be (N, 2), got {getattr(a, 'shape', type(a))}")


@dataclass(frozen=True, slots=True)
class OverlayFrame:
    """What is streamed per processed frame to the headset and other cells."""

    stream_id: str
    seq: int
    t_capture: float
    t_emit: float
    model: str
    view: str | None
    track: TrackState | None  # predicted for ``track.t`` (display time)
    image_score: float | None  # normalised, 0.5 = the manifest's image threshold
    defects: tuple[Defect, ...] = field(default_factory=tuple)
    schema_version: int = SCHEMA_VERSION
    #: cars that left recently (repeated for a while; key them by stream and car id)
    verdicts: tuple[CarVerdict, ...] = field(default_factory=tuple)
