"""The underbody's fixed layout: views, sealant regions and structures.

Everything here is in underbody pixels (u along the car from the front
bumper, v across) at the default scale (frame height 480) and is the same for
every car and variant, so one template per view matches all cars. Scaled
copies come from :func:`build_layout`.

Regions follow the paper's partition: lower front 4 sections, lower center 8,
lower back 5. Each region is a sealant trajectory (a polyline along a panel
seam) with its bead width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from xrbridge.names import VIEWS

#: Underbody image size (length along u, width along v) at scale 1.
UNDERBODY_SIZE = (1640, 440)
#: View rectangles (u0, v0, width, height) at scale 1.
VIEW_RECTS: dict[str, tuple[int, int, int, int]] = {
    "lower_front": (30, 20, 520, 400),
    "lower_center": (560, 20, 520, 400),
    "lower_back": (1090, 20, 520, 400),
}
#: ROI margin around a bead (px at scale 1) on each side.
ROI_MARGIN = 10.0


@dataclass(frozen=True, slots=True)
class ViewRect:
    """Where a view sits in the underbody image (underbody px)."""

    u0: int
    v0: int
    width: int
    height: int

    def to_dict(self) -> dict[str, int]:
        return {"u0": self.u0, "v0": self.v0, "width": self.width, "height": self.height}


@dataclass(frozen=True, slots=True)
class Region:
    """One sealant trajectory. ``points``: (N, 2) float64 underbody (u, v)."""

    name: str
    view: str
    points: np.ndarray
    bead_width: float
    closed: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "polyline_ub": [[round(float(u), 2), round(float(v), 2)] for u, v in self.points],
            "bead_width": round(self.bead_width, 2),
            "closed": self.closed,
        }


@dataclass(frozen=True, slots=True)
class Feature:
    """A structure stamped into the metal. ``kind`` selects how texture.py draws it.

    kinds: rail (p0, p1, width), hole (centre, axes, angle), opening (centre,
    axes), plug (centre, radius), ribs (x0, y0, x1, y1, count, horizontal),
    welds (p0, p1, spacing), panel (polygon), edge (p0, p1).
    """

    kind: str
    params: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    scale: float
    size: tuple[int, int]  # (L, Wd) underbody px
    views: dict[str, ViewRect]
    regions: dict[str, tuple[Region, ...]]
    features: tuple[Feature, ...]

    def all_regions(self) -> list[Region]:
        return [r for v in VIEWS for r in self.regions[v]]


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, n: int) -> list[tuple[float, float]]:
    return [
        (cx + r * math.cos(math.radians(a)), cy + r * math.sin(math.radians(a)))
        for a in np.linspace(a0, a1, n)
    ]


def _round_rect(x0: float, y0: float, x1: float, y1: float, r: float) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    pts += _arc(x1 - r, y0 + r, r, -90, 0, 5)
    pts += _arc(x1 - r, y1 - r, r, 0, 90, 5)
    pts += _arc(x0 + r, y1 - r, r, 90, 180, 5)
    pts += _arc(x0 + r, y0 + r, r, 180, 270, 5)
    pts.append(pts[0])
    return pts


def _base_regions() -> dict[str, list[tuple[Any, float, bool]]]:
    """Region polylines in view-local coordinates (x along u, y along v), scale 1."""
    front = [
        ([(40, 78), (200, 66), (360, 66), (490, 84)], 12.0, False),
        ([(40, 322), (200, 334), (360, 334), (490, 316)], 12.0, False),
        ([(300, 112), (308, 200), (300, 288)], 11.0, False),
        (_arc(112, 200, 78, -68, 68, 14), 13.0, False),
    ]
    center = [
        ([(12, 158), (180, 154), (340, 154), (508, 158)], 12.0, False),
        ([(12, 242), (180, 246), (340, 246), (508, 242)], 12.0, False),
        ([(118, 30), (124, 138)], 10.0, False),
        ([(118, 370), (124, 262)], 10.0, False),
        ([(402, 30), (396, 138)], 10.0, False),
        ([(402, 370), (396, 262)], 10.0, False),
        (_round_rect(170, 48, 350, 128, 22), 11.0, True),
        (_round_rect(170, 272, 350, 352, 22), 11.0, True),
    ]
    back = [
        ([(58, 52), (72, 200), (58, 348)], 13.0, False),
        ([*_arc(300, 200, 92, 0, 360, 40)], 12.0, True),
        ([(130, 46), (300, 70), (470, 118)], 11.0, False),
        ([(130, 354), (300, 330), (470, 282)], 11.0, False),
        ([(436, 164), (490, 200), (436, 236)], 10.0, False),
    ]
    return {"lower_front": front, "lower_center": center, "lower_back": back}


def _base_features() -> list[Feature]:
    """Structures in underbody coordinates at scale 1 (drawn under the sealant)."""
    f: list[Feature] = []
    L, _W = UNDERBODY_SIZE
    # Panels: slightly different shades between seams, the main visual blocks.
    panels = [
        (0, 20, 30, 420),
        (30, 20, 330, 200),
        (30, 200, 330, 420),
        (330, 20, 560, 420),
        (560, 20, 840, 174),
        (560, 226, 840, 420),
        (840, 20, 1090, 174),
        (840, 226, 1090, 420),
        (560, 174, 1090, 226),
        (1090, 20, 1400, 420),
        (1400, 20, 1640, 420),
    ]
    for p in panels:
        f.append(Feature("panel", tuple(float(x) for x in p)))
    # Side sills: long rails at both edges.
    f.append(Feature("rail", (0, 10, L, 10, 20)))
    f.append(Feature("rail", (0, 430, L, 430, 20)))
    # Front: engine-bay opening, rails, ribs, holes.
    f.append(Feature("opening", (30 + 112, 20 + 200, 44, 56)))
    f.append(Feature("rail", (30 + 150, 20 + 130, 30 + 480, 20 + 122, 26)))
    f.append(Feature("rail", (30 + 150, 20 + 270, 30 + 480, 20 + 278, 26)))
    f.append(Feature("ribs", (30 + 350, 20 + 160, 30 + 470, 20 + 240, 6, 0)))
    f.append(Feature("welds", (30 + 60, 20 + 100, 30 + 270, 20 + 100, 14)))
    f.append(Feature("welds", (30 + 60, 20 + 300, 30 + 270, 20 + 300, 14)))
    holes: tuple[tuple[float, ...], ...] = (
        (30 + 230, 20 + 200, 14, 9, 0),
        (30 + 430, 20 + 36, 8, 8, 0),
        (30 + 430, 20 + 364, 8, 8, 0),
        (30 + 350, 20 + 200, 6, 6, 0),
    )
    for c in holes:
        f.append(Feature("hole", tuple(float(x) for x in c)))
    # Center: tunnel, cross-member rails, pan ribs, plugs.
    f.append(Feature("rail", (560, 20 + 200, 1090, 20 + 200, 58)))
    for x in (560 + 121, 560 + 399):
        f.append(Feature("edge", (x - 14, 20 + 20, x - 14, 20 + 380)))
        f.append(Feature("edge", (x + 14, 20 + 20, x + 14, 20 + 380)))
    f.append(Feature("ribs", (560 + 190, 20 + 62, 560 + 330, 20 + 114, 5, 1)))
    f.append(Feature("ribs", (560 + 190, 20 + 286, 560 + 330, 20 + 338, 5, 1)))
    plugs: tuple[tuple[float, ...], ...] = (
        (560 + 60, 20 + 90, 10),
        (560 + 60, 20 + 310, 10),
        (560 + 460, 20 + 90, 10),
        (560 + 460, 20 + 310, 10),
        (560 + 260, 20 + 200, 13),
    )
    for c in plugs:
        f.append(Feature("plug", tuple(float(x) for x in c)))
    f.append(Feature("welds", (560 + 20, 20 + 186, 560 + 500, 20 + 186, 18)))
    # Back: spare-wheel well, rails, holes, ribs.
    f.append(Feature("opening", (1090 + 300, 20 + 200, 60, 60)))
    f.append(Feature("rail", (1090 + 100, 20 + 200, 1090 + 190, 20 + 200, 22)))
    f.append(Feature("ribs", (1090 + 410, 20 + 40, 1090 + 500, 20 + 110, 4, 0)))
    f.append(Feature("ribs", (1090 + 410, 20 + 290, 1090 + 500, 20 + 360, 4, 0)))
    holes = (
        (1090 + 150, 20 + 120, 9, 13, 30),
        (1090 + 150, 20 + 280, 9, 13, -30),
        (1090 + 470, 20 + 200, 7, 7, 0),
        (1090 + 20, 20 + 200, 6, 10, 0),
    )
    for c in holes:
        f.append(Feature("hole", tuple(float(x) for x in c)))
    f.append(Feature("welds", (1090 + 20, 20 + 20, 1090 + 20, 20 + 150, 14)))
    f.append(Feature("welds", (1090 + 20, 20 + 250, 1090 + 20, 20 + 380, 14)))
    return f


def _scale_feature(feat: Feature, s: float) -> Feature:
    if feat.kind == "ribs":
        x0, y0, x1, y1, n, horiz = feat.params
        return Feature("ribs", (x0 * s, y0 * s, x1 * s, y1 * s, n, horiz))
    if feat.kind == "hole":
        cx, cy, a, b, ang = feat.params
        return Feature("hole", (cx * s, cy * s, a * s, b * s, ang))
    return Feature(feat.kind, tuple(p * s for p in feat.params))


def build_layout(scale: float = 1.0) -> Layout:
    """The layout at ``scale`` (frame height / 480). Pure and deterministic."""
    s = float(scale)
    size = (round(UNDERBODY_SIZE[0] * s), round(UNDERBODY_SIZE[1] * s))
    views = {
        v: ViewRect(round(u0 * s), round(v0 * s), round(w * s), round(h * s))
        for v, (u0, v0, w, h) in VIEW_RECTS.items()
    }
    regions: dict[str, tuple[Region, ...]] = {}
    for view, items in _base_regions().items():
        u0, v0, _, _ = VIEW_RECTS[view]
        rs = []
        for k, (pts, width, closed) in enumerate(items, start=1):
            arr = (np.asarray(pts, dtype=np.float64) + np.array([u0, v0], np.float64)) * s
            rs.append(Region(f"{view}_{k:02d}", view, arr, width * s, closed))
        regions[view] = tuple(rs)
    feats = tuple(_scale_feature(f, s) for f in _base_features())
    return Layout(s, size, views, regions, feats)


@dataclass(frozen=True, slots=True)
class Path:
    """A region's polyline resampled at ~1 px. ``p``: (N, 2) points, ``n``: (N, 2) unit
    normals, ``s``: (N,) arc length from the start."""

    p: np.ndarray
    n: np.ndarray
    s: np.ndarray

    @property
    def length(self) -> float:
        return float(self.s[-1])


def resample(points: np.ndarray, step: float = 1.0) -> Path:
    """Resample a polyline at ``step`` px with Chaikin-free linear interpolation."""
    pts = np.asarray(points, dtype=np.float64)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, math.ceil(cum[-1] / step) + 1)
    s = np.linspace(0.0, cum[-1], n)
    p = np.stack([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])], axis=1)
    t = np.gradient(p, axis=0)
    # smooth tangents so normals do not jump at polyline corners
    k = np.ones(7) / 7.0
    t = np.stack([np.convolve(np.pad(t[:, i], 3, mode="edge"), k, "valid") for i in range(2)], 1)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
    normals = np.stack([-t[:, 1], t[:, 0]], axis=1)
    return Path(p, normals, s)


def robot_of_region(layout: Layout, region: Region) -> str:
    """The robot assumed to apply ``region`` on the simulated line.

    The simulator's plant has one robot per view and side: a region whose mean
    ``v`` lies in the view's first 45 % is ``<view>_left``, beyond 55 %
    ``<view>_right``, between ``<view>_middle`` (``view`` without ``lower_``).
    A real plant gives its own map in the settings (``robots``).
    """
    rect = layout.views[region.view]
    rel = (float(region.points[:, 1].mean()) - rect.v0) / rect.height
    side = "left" if rel < 0.45 else "right" if rel > 0.55 else "middle"
    return f"{region.view.removeprefix('lower_')}_{side}"


def robot_map(layout: Layout) -> dict[str, tuple[str, ...]]:
    """{robot: (region name, ...)} of the simulated line (see :func:`robot_of_region`)."""
    out: dict[str, list[str]] = {}
    for r in layout.all_regions():
        out.setdefault(robot_of_region(layout, r), []).append(r.name)
    return {k: tuple(v) for k, v in out.items()}
