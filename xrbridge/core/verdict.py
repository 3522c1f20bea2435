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

from dataclasses import dataclass, field

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
