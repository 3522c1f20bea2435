"""One car-level result when a car leaves: OK / NOK / INCOMPLETE with a confidence.

No I/O. The verdict is built from the fused evidence of all three views
(:mod:`xrbridge.core.fusion`): the confirmed defects with their type guess,
size class and position on the underbody, and which views were seen well
enough to judge.

Statuses (``VERDICTS``):

- ``OK``: every view was seen well enough (``ViewCoverage.complete``) and no
  defect was confirmed.
- ``NOK``: at least one defect was confirmed (a defect seen in one view is a
  defect, whatever happened to the others).
- ``INCOMPLETE``: no defect was confirmed, but at least one view was not seen
  well enough (never shown, too few usable frames, too little travel, or the
  track was lost). Never a silent OK.

``confidence`` in [0, 1]: for NOK the strongest defect's confidence; for OK
the product over views of how well each was covered (the share of the wanted
frames and travel that were seen), times ``1 - max residual evidence`` (a car
whose strongest unconfirmed candidate came close to confirmation is a less
certain OK); for INCOMPLETE the share of views covered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xrbridge.errors import InputError
from xrbridge.names import DEFECTS, SEVERITIES, VIEWS

#: Car-level statuses.
VERDICTS = ("OK", "NOK", "INCOMPLETE")
#: Size classes of a defect (the seed paper's small / medium / large).
SIZE_CLASSES = ("small", "medium", "large")
#: Type guesses: the defect types, or "unknown" when the shape does not tell.
TYPE_GUESSES = (*DEFECTS, "unknown")


@dataclass(frozen=True, slots=True)
class VerdictDefect:
    """A confirmed defect of a car, in underbody coordinates.

    ``centroid_ub``: (u, v) underbody px (u from the front bumper, v across).
    ``contour_ub``: (N, 2) float32 underbody px. ``location``: where on the
    car (``front-left`` ... of the car's centre, the hint vocabulary).
    ``confidence`` in [0, 1]: how far the fused evidence went past the
    confirmation gates. ``frames``: frames the region was seen in;
    ``travel_px``: how far the car moved while it was seen.
    """

    defect_id: int
    view: str
    type_guess: str
    size_class: str
    severity: str
    confidence: float
    centroid_ub: tuple[float, float]
    contour_ub: np.ndarray
    length_px: float
    area_px: float
    location: str
    frames: int
    travel_px: float
    peak_score: float
    area_mm2: float | None = None

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise InputError(f"view must be one of {VIEWS}, got {self.view!r}")
        if self.type_guess not in TYPE_GUESSES:
            raise InputError(f"type_guess must be one of {TYPE_GUESSES}, got {self.type_guess!r}")
        if self.size_class not in SIZE_CLASSES:
            raise InputError(f"size_class must be one of {SIZE_CLASSES}, got {self.size_class!r}")
        if self.severity not in SEVERITIES:
            raise InputError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise InputError(f"confidence must be in [0, 1], got {self.confidence}")
        c = self.contour_ub
        if not isinstance(c, np.ndarray) or c.ndim != 2 or c.shape[1] != 2:
            raise InputError(f"contour_ub must be (N, 2), got {getattr(c, 'shape', type(c))}")


@dataclass(frozen=True, slots=True)
class ViewCoverage:
    """How well one view of a car was seen: usable frames, car travel, whether enough."""

    view: str
    frames: int
    travel_px: float
    complete: bool

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise InputError(f"view must be one of {VIEWS}, got {self.view!r}")


@dataclass(frozen=True, slots=True)
class CarVerdict:
    """The result of one car, emitted once when it leaves (or the stream ends).

    ``views_seen``: views with enough usable frames and travel to judge;
    ``views_missing``: the others (never shown, too short, track lost).
    ``reason``: one line for the operator and the record, e.g. ``"2 defects"``
    or ``"lower_back not seen"``.
    """

    stream_id: str
    car_id: int
    status: str
    confidence: float
    t_first: float
    t_last: float
    views_seen: tuple[str, ...]
    views_missing: tuple[str, ...]
    defects: tuple[VerdictDefect, ...] = field(default_factory=tuple)
    coverage: tuple[ViewCoverage, ...] = field(default_factory=tuple)
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in VERDICTS:
            raise InputError(f"verdict status must be one of {VERDICTS}, got {self.status!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise InputError(f"confidence must be in [0, 1], got {self.confidence}")
        if self.status == "OK" and (self.defects or self.views_missing):
            raise InputError("an OK verdict has no defects and no missing views")
        if self.status == "NOK" and not self.defects:
            raise InputError("a NOK verdict needs at least one defect")
        for v in (*self.views_seen, *self.views_missing):
            if v not in VIEWS:
                raise InputError(f"view must be one of {VIEWS}, got {v!r}")


def verdict_to_json(v: CarVerdict) -> dict[str, Any]:
    """``v`` as JSON-safe plain values (the msgpack fields without ``type``/``schema_version``)."""
    return {
        "stream_id": v.stream_id,
        "car_id": int(v.car_id),
        "status": v.status,
        "confidence": float(v.confidence),
        "t_first": float(v.t_first),
        "t_last": float(v.t_last),
        "views_seen": list(v.views_seen),
        "views_missing": list(v.views_missing),
        "defects": [
            {
                "defect_id": int(d.defect_id),
                "view": d.view,
                "type_guess": d.type_guess,
                "size_class": d.size_class,
                "severity": d.severity,
                "confidence": float(d.confidence),
                "centroid_ub": [float(x) for x in d.centroid_ub],
                "contour_ub": [float(x) for x in np.asarray(d.contour_ub, np.float32).reshape(-1)],
                "length_px": float(d.length_px),
                "area_px": float(d.area_px),
                "location": d.location,
                "frames": int(d.frames),
                "travel_px": float(d.travel_px),
                "peak_score": float(d.peak_score),
                "area_mm2": None if d.area_mm2 is None else float(d.area_mm2),
            }
            for d in v.defects
        ],
        "coverage": [
            {
                "view": c.view,
                "frames": int(c.frames),
                "travel_px": float(c.travel_px),
                "complete": bool(c.complete),
            }
            for c in v.coverage
        ],
        "reason": v.reason,
    }


def verdict_from_json(d: Mapping[str, Any]) -> CarVerdict:
    """The inverse of :func:`verdict_to_json`. Raises InputError on missing keys or bad values."""
    try:
        return CarVerdict(
            stream_id=str(d["stream_id"]),
            car_id=int(d["car_id"]),
            status=str(d["status"]),
            confidence=float(d["confidence"]),
            t_first=float(d["t_first"]),
            t_last=float(d["t_last"]),
            views_seen=tuple(d["views_seen"]),
            views_missing=tuple(d["views_missing"]),
            defects=tuple(
                VerdictDefect(
                    **{
                        **x,
                        "centroid_ub": (float(x["centroid_ub"][0]), float(x["centroid_ub"][1])),
                        "contour_ub": np.asarray(x["contour_ub"], np.float32).reshape(-1, 2),
                    }
                )
                for x in d["defects"]
            ),
            coverage=tuple(ViewCoverage(**c) for c in d["coverage"]),
            reason=str(d["reason"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"not a verdict: {type(exc).__name__}: {exc}") from exc
