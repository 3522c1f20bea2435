"""Ground truth: where every car and view is in each kept frame, and ``truth.jsonl``.

One line per frame of the file (docs/contracts.md): index, source_index, t, and per
car with some part in the frame its variant, offset (underbody origin, frame
px), velocity (px/s), the views with ``visible > 0`` (bbox, visible, peak) and
the defects whose polygon reaches into the frame (polygon_px, polygon_ub).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xrbridge.names import VIEWS
from xrbridge.sim.motion import CarPlan, Timeline, view_bbox, visible_fraction
from xrbridge.sim.sealant import DefectSpec

Key = tuple[int, str]  # (car id, view)


def r3(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


@dataclass
class Geo:
    """Truth geometry of one car in one kept frame: views {view: (bbox, visible)}."""

    car: CarPlan
    ox: float
    oy: float
    views: dict[str, tuple[tuple[float, ...], float]]


def measure(
    cars: list[CarPlan],
    tl: Timeline,
    rects: dict[str, tuple[int, int, int, int]],
    size: tuple[int, int],
    length: int,
) -> tuple[list[list[Geo]], dict[Key, int], dict[Key, list[int]]]:
    """Geometry of every kept frame.

    Returns ``(geo, peak_at, full)``: per kept frame the cars in it; for each
    (car, view) the file index of its peak (fully visible, centre closest to
    the frame centre) and the file indices where it is fully visible.
    """
    W, H = size
    geo: list[list[Geo]] = []
    best: dict[Key, tuple[float, int]] = {}
    full: dict[Key, list[int]] = {}
    for i, k in enumerate(tl.kept):
        row: list[Geo] = []
        for car in cars:
            ox, oy = tl.offset(car, int(k), W)
            if ox >= W or ox + length <= 0:
                continue
            views: dict[str, tuple[tuple[float, ...], float]] = {}
            for v in VIEWS:
                bb = view_bbox(ox, oy, rects[v])
                vis = visible_fraction(bb, W, H)
                if vis <= 0:
                    continue
                views[v] = (bb, vis)
                if vis >= 1.0:
                    full.setdefault((car.id, v), []).append(i)
                    dist = math.hypot(bb[0] + bb[2] / 2 - W / 2, bb[1] + bb[3] / 2 - H / 2)
                    if (car.id, v) not in best or dist < best[(car.id, v)][0]:
                        best[(car.id, v)] = (dist, i)
            row.append(Geo(car, ox, oy, views))
        geo.append(row)
    return geo, {key: i for key, (_, i) in best.items()}, full


def polys_px(
    ds: list[DefectSpec],
    polys_ub: dict[int, np.ndarray],
    ox: float,
    oy: float,
    view: str | None = None,
) -> list[tuple[DefectSpec, np.ndarray]]:
    """The defects' polygons in frame px for a car at offset (ox, oy)."""
    off = np.array([ox, oy])
    return [(d, polys_ub[d.id] + off) for d in ds if view is None or d.view == view]


def defect_json(d: DefectSpec, pub: np.ndarray, ppx: np.ndarray) -> dict[str, Any]:
    return {
        "id": d.id,
        "type": d.type,
        "view": d.view,
        "region": d.region,
        "size": d.size,
        "polygon_px": [[r3(x, 2), r3(y, 2)] for x, y in ppx],
        "polygon_ub": [[r3(u, 2), r3(v, 2)] for u, v in pub],
    }


def write_truth(
    path: Path,
    geo: list[list[Geo]],
    tl: Timeline,
    peak_at: dict[Key, int],
    defects: dict[int, list[DefectSpec]],
    polys_ub: dict[int, np.ndarray],
    frame_w: int,
) -> None:
    """Write ``truth.jsonl``: one compact JSON line per kept frame."""
    with open(path, "w") as fh:
        for i, row in enumerate(geo):
            k = int(tl.kept[i])
            cars_json = []
            for g in row:
                views_json = {
                    v: {
                        "bbox": [r3(x) for x in bb],
                        "visible": r3(vis, 4),
                        "peak": peak_at.get((g.car.id, v)) == i,
                    }
                    for v, (bb, vis) in g.views.items()
                }
                dj = []
                for d, ppx in polys_px(defects[g.car.id], polys_ub, g.ox, g.oy):
                    if ppx[:, 0].max() < 0 or ppx[:, 0].min() >= frame_w:
                        continue
                    dj.append(defect_json(d, polys_ub[d.id], ppx))
                cars_json.append(
                    {
                        "id": g.car.id,
                        "variant": g.car.variant,
                        "offset": [r3(g.ox), r3(g.oy)],
                        "velocity": [r3(-tl.v[k]), r3(g.car.sway_at(tl.t[k])[1])],
                        "views": views_json,
                        "defects": dj,
                    }
                )
            fh.write(
                json.dumps(
                    {"index": i, "source_index": k, "t": r3(tl.t[k], 6), "cars": cars_json},
                    separators=(",", ":"),
                )
                + "\n"
            )
