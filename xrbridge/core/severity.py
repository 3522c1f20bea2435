"""Severity ``low | medium | high`` from a defect's normalised score and size.

No I/O. Scores are normalised (0.5 = the calibrated pixel threshold, 1.0 = the
highest raw score seen in calibration, clipped), sizes are fractions of the
view's area, so the same defaults work for every model and view.

Default reasoning (``SeverityConfig``):

- score: 0.5-0.7 is "just above threshold", where most false alarms of a
  calibrated model live -> at most ``low`` by score; >= 0.7 means the region
  is at least 20 % of the calibration score range above the threshold ->
  ``medium``; >= 0.85 is close to the strongest anomaly calibration saw ->
  ``high``.
- size: a missing or displaced bead typically covers > 1 % of a view (a
  stretch of bead several bead-widths long) -> ``high``; 0.2-1 % (a hole, a
  short narrowing) -> ``medium``; smaller -> ``low``.
- the final level is the higher of the two, except that size alone lifts a
  weak score (below ``medium_score``) to ``medium`` at most: a large but faint
  region is more often lighting than a defect, and the operator should not be
  sent running for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrbridge.errors import InputError
from xrbridge.names import SEVERITIES


@dataclass(frozen=True, slots=True)
class SeverityConfig:
    """Thresholds; raising them makes fewer defects ``medium``/``high``."""

    medium_score: float = 0.7
    high_score: float = 0.85
    medium_area: float = 0.002  # fraction of the view's area
    high_area: float = 0.01

    def __post_init__(self) -> None:
        if not 0.5 <= self.medium_score <= self.high_score <= 1.0:
            raise InputError(
                "severity scores must satisfy 0.5 <= medium_score <= high_score <= 1, "
                f"got {self.medium_score}, {self.high_score}"
            )
        if not 0.0 <= self.medium_area <= self.high_area <= 1.0:
            raise InputError(
                "severity areas must satisfy 0 <= medium_area <= high_area <= 1, "
                f"got {self.medium_area}, {self.high_area}"
            )


def severity(score: float, area_fraction: float, config: SeverityConfig | None = None) -> str:
    """Severity of a region with normalised peak ``score`` covering ``area_fraction`` of the view."""
    c = config or SeverityConfig()
    if not (0.0 <= score <= 1.0) or not (0.0 <= area_fraction <= 1.0):
        raise InputError(f"score and area fraction must be in [0, 1], got {score}, {area_fraction}")
    by_score = 2 if score >= c.high_score else 1 if score >= c.medium_score else 0
    by_size = 2 if area_fraction >= c.high_area else 1 if area_fraction >= c.medium_area else 0
    if by_score == 0:
        by_size = min(by_size, 1)
    return SEVERITIES[max(by_score, by_size)]
