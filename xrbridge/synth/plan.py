"""What to draw where: defect types, size classes, regions and parameters.

Sizes follow the paper's three classes (small / medium / large). Lengths are
in bead widths ``w`` so they carry over to any camera; the classes and the
per-type factors match the project's renderer (``xrbridge.sim.sealant``), so
a ``synth`` test set and a rendered one differ only in how defects are drawn:

=============  ==========================  ===================================
type           stretch length              amount
=============  ==========================  ===================================
missing        L                           -
misalignment   1.5 L                       sideways offset 1.3 / 1.7 / 2.2 w
bifurcation    1.4 L                       branch offset 0.55 / 0.7 / 0.85 w
narrowing      1.3 L                       width factor 0.55 / 0.45 / 0.38
hole           0.55 / 0.85 / 1.3 w         void width factor 0.6
=============  ==========================  ===================================

with ``L`` drawn uniformly in 1.4-2.1 w (small), 2.8-3.8 w (medium),
4.8-6.4 w (large); amounts jitter by +-10 %. A missing bead uncovers the panel
joint it sealed: a thin line 35-55 % darker along its centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrbridge.synth.defects import DefectParams
from xrbridge.synth.tracks import Sampled, Track

SIZES = ("small", "medium", "large")
#: the types that uncover part of the bead's footprint (and the joint under it)
SEAM_TYPES = ("missing", "misalignment", "bifurcation", "hole")
LENGTH_W = {"small": (1.4, 2.1), "medium": (2.8, 3.8), "large": (4.8, 6.4)}
TYPE_LENGTH = {"missing": 1.0, "misalignment": 1.5, "bifurcation": 1.4, "narrowing": 1.3}
HOLE_LENGTH_W = {"small": 0.55, "medium": 0.85, "large": 1.3}
AMOUNT = {
    "misalignment": {"small": 1.3, "medium": 1.7, "large": 2.2},
    "bifurcation": {"small": 0.55, "medium": 0.7, "large": 0.85},
    "narrowing": {"small": 0.55, "medium": 0.45, "large": 0.38},
    "hole": {"small": 0.6, "medium": 0.6, "large": 0.6},
}


@dataclass(frozen=True, slots=True)
class Slot:
    """One defect to draw: on track ``track`` (index) with ``params``."""

    track: int
    params: DefectParams


def draw_params(
    typ: str,
    size: str,
    track: Track,
    sampled: Sampled,
    rng: np.random.Generator,
    taken: list[tuple[float, float]],
) -> DefectParams | None:
    """Parameters of one defect on ``track``, away from its ends and from the
    stretches in ``taken`` ((s0, s1) pairs); None when it does not fit."""
    w = track.width
    if typ == "hole":
        length = HOLE_LENGTH_W[size] * w * float(rng.uniform(0.9, 1.1))
    else:
        lo, hi = LENGTH_W[size]
        length = float(rng.uniform(lo, hi)) * w * TYPE_LENGTH[typ]
    amount = 0.0
    if typ in ("misalignment", "bifurcation"):
        amount = AMOUNT[typ][size] * w * float(rng.uniform(0.9, 1.1))
    elif typ in AMOUNT:
        amount = AMOUNT[typ][size] * float(rng.uniform(0.92, 1.08))
    margin = 0.9 * w  # as close to a track end as the renderer goes (10 px at w = 11)
    free = sampled.length - length - 2 * margin
    if free <= 0:
        return None
    for _ in range(8):
        s0 = margin + float(rng.uniform(0, free))
        if all(s0 + length + margin < a or s0 > b + margin for a, b in taken):
            side = int(rng.choice([-1, 1]))
            # the panel joint under the bead shows wherever its footprint is uncovered
            seam = float(rng.uniform(0.35, 0.55)) if typ in SEAM_TYPES else 0.0
            return DefectParams(
                typ, size, track.name, s0, length, amount, side, max(2.0, 0.25 * w), seam
            )
    return None


def plan_image(
    index: int,
    typ: str,
    size: str,
    per_image: int,
    tracks: list[Track],
    sampled: list[Sampled],
    rng: np.random.Generator,
) -> list[Slot]:
    """``per_image`` defects of one type for that type's turn ``index``.

    Regions are visited in turn (turn ``index`` starts at region
    ``index * per_image``), the paper's region-by-region coverage; a region
    too short for the stretch passes its turn to the next one.
    """
    n = len(tracks)
    slots: list[Slot] = []
    taken: dict[int, list[tuple[float, float]]] = {}
    k = index * per_image
    tries = 0
    while len(slots) < per_image and tries < 3 * n + per_image:
        ti = k % n
        k += 1
        tries += 1
        p = draw_params(typ, size, tracks[ti], sampled[ti], rng, taken.get(ti, []))
        if p is None:
            continue
        taken.setdefault(ti, []).append((p.s0, p.s0 + p.length))
        slots.append(Slot(ti, p))
    return slots
