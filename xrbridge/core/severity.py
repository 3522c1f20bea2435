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


# ----------------------------------------------------------- size on the underbody


@dataclass(frozen=True, slots=True)
class SizeConfig:
    """Size classes from a fused defect's physical extent on the underbody.

    ``small_max_px`` / ``medium_max_px``: the longest side (px, or mm with
    ``mm_per_px``) of the defect's core region up to which it is ``small`` /
    ``medium``; longer is ``large``. The defaults split the fused lengths of
    the simulator's defects (six unseen lines, default models) where the
    classes cross: small missing/misaligned beads measured 16-60 px, medium
    27-86, large 80-137 (holes and narrowings blur to 16-24 px whatever
    their size, so their class is mostly ``small``). The fused region is the defect widened by
    the model's map blur (about ``blur_px`` on each side), which is removed
    before classifying. Severity follows size (small -> low, medium ->
    medium, large -> high) and drops one level when the evidence is weak
    (confidence below ``weak_confidence``): a barely confirmed region should
    not send the operator running. ``hole_max_px`` / ``hole_max_elongation``:
    a compact core up to this length is guessed a ``hole``; an elongated one
    a ``missing`` bead (the most frequent type), unless it is wide for its
    length (``wide_ratio``), then ``misalignment``.
    """

    small_max_px: float = 40.0
    medium_max_px: float = 76.0
    blur_px: float = 0.0
    mm_per_px: float | None = None
    weak_confidence: float = 0.6
    hole_max_px: float = 24.0
    hole_max_elongation: float = 1.6
    wide_ratio: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 < self.small_max_px <= self.medium_max_px:
            raise InputError(
                "size classes need 0 < small_max_px <= medium_max_px, got "
                f"{self.small_max_px}, {self.medium_max_px}"
            )


def classify(
    length_px: float,
    width_px: float,
    peak: float,
    confidence: float,
    config: SizeConfig | None = None,
) -> tuple[str, str, str]:
    """(size class, severity, type guess) of a fused defect.

    Args:
        length_px / width_px: the core region's longer / shorter side, underbody px.
        peak: fused peak score (normalised); kept for future rules, not used yet.
        confidence: the defect's confidence in [0, 1].
    """
    c = config or SizeConfig()
    length = max(0.0, length_px - 2 * c.blur_px)
    width = max(1.0, width_px - 2 * c.blur_px)
    scale = 1.0 if c.mm_per_px is None else c.mm_per_px
    size = length * scale
    size_class = (
        "small" if size <= c.small_max_px else "medium" if size <= c.medium_max_px else "large"
    )
    level = {"small": 0, "medium": 1, "large": 2}[size_class]
    if confidence < c.weak_confidence:
        level = max(0, level - 1)
    elong = length / width
    if length <= c.hole_max_px and elong <= c.hole_max_elongation:
        guess = "hole"
    elif width >= c.wide_ratio * length:
        guess = "misalignment"
    else:
        guess = "missing"
    return size_class, SEVERITIES[level], guess
