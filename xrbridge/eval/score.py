"""Score an overlay stream against the simulator's truth: are the highlights right?

No I/O except :func:`load_jsonl`. Inputs are plain dicts:

- ``overlays``: the lines of ``xrbridge replay VIDEO --out o.jsonl`` (the
  msgpack mapping of each ``OverlayFrame`` as JSON, ``type`` =
  ``overlay_frame``; ``seq`` is the frame's index in the video) with the car
  verdicts they carry (``verdicts``, repeated while fresh, deduplicated by
  stream and car id), and any verdicts on lines of their own (``type`` =
  ``car_verdict``).
- ``truth``: the lines of the simulator's ``truth.jsonl`` (one per video
  frame: cars with their underbody origin ``offset`` in frame px, visible
  views with ``bbox``/``visible``/``peak``, defects with ``polygon_ub``).

What is measured (all in the JSON that :func:`score` returns):

- a defect is **expected** when its view was fully in the frame at least once
  (``peak`` in the truth): the pipeline inspects fully visible views only;
- each **confirmed overlay id** (stream car id, defect id) is assigned to the
  truth car its track sat on (majority over its frames) and matched to the
  nearest truth defect of that car and view whose polygon lies within
  ``gate_px`` of the id's mean centroid (underbody px); an id with no such
  defect is **false**; further ids on an already found defect are
  ``duplicate_ids`` (an id change the operator sees), not false;
- **recall** = found / expected; **false per car** = false ids / cars that
  showed at least one view fully;
- **contour IoU** of a found defect: its first id's contour (view-normalised,
  mapped to underbody px) against the truth polygon, averaged over the frames
  it was shown;
- **time to first confirmed overlay**: from the first frame in which the
  defect's whole polygon is inside the frame to the first frame with a
  confirmed id on it, in seconds of the truth clock (real time, also on lines
  with dropped frames) and in frames at ``fps``;
- all of these **by type and size class**;
- **verdicts** (when present): per truth car expected ``NOK`` if it has an
  expected defect, else ``OK``; the confusion, the share of clean cars judged
  NOK, and the type-guess and size-class accuracy of the verdicts' defects.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from xrbridge.errors import InputError

Key = tuple[int, int]  # (car id, defect id), truth or ours


@dataclass(frozen=True, slots=True)
class ScoreConfig:
    """``gate_px``: how far (underbody px) an id's centroid may lie outside a truth
    polygon and still count as on it (raising it forgives sloppier placement).
    ``car_gate_px``: how far a track's origin may be from a truth car's origin
    to count as that car. ``fps``: frames per second for the frame counts.
    ``frame_size``: (W, H) of the video, for "whole polygon in the frame"."""

    gate_px: float = 15.0
    car_gate_px: float = 120.0
    fps: float = 30.0
    frame_size: tuple[int, int] = (848, 480)


def load_jsonl(path: str | Path, what: str) -> list[dict[str, Any]]:
    """Read a JSON-lines file of objects. Raises InputError naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file not found: {p}")
    out: list[dict[str, Any]] = []
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}:{n}: expected a JSON object per line, got: {exc}") from exc
            if not isinstance(obj, dict):
                raise InputError(f"{p}:{n}: expected a JSON object, got {type(obj).__name__}")
            out.append(obj)
    if not out:
        raise InputError(f"{what} file {p} is empty")
    return out


def poly_iou(a: np.ndarray, b: np.ndarray, scale: float = 4.0) -> float:
    """IoU of two filled polygons (N, 2) / (M, 2), rasterised at ``scale`` px per unit."""
    lo = np.floor(np.minimum(a.min(0), b.min(0))) - 2
    wh = np.ceil((np.maximum(a.max(0), b.max(0)) - lo + 2) * scale).astype(int)
    ma = np.zeros((wh[1], wh[0]), np.uint8)
    mb = np.zeros_like(ma)
    cv2.fillPoly(ma, [np.round((a - lo) * scale).astype(np.int32)], 1)
    cv2.fillPoly(mb, [np.round((b - lo) * scale).astype(np.int32)], 1)
    union = int(np.count_nonzero(ma | mb))
    return float(np.count_nonzero(ma & mb)) / union if union else 0.0


@dataclass(slots=True)
class _TruthDefect:
    car: int
    did: int
    type: str
    size: str
    view: str
    poly: np.ndarray  # (N, 2) underbody px
    first_visible: tuple[int, float] | None = None  # (frame index, t)
    expected: bool = False


@dataclass(slots=True)
class _Ours:
    view: str
    first: tuple[int, float]  # (frame index, t) first shown confirmed
    cars: Counter[int]
    centroids: list[np.ndarray]
    contours: list[np.ndarray]  # underbody px


def _views_geometry(
    truth: Sequence[Mapping[str, Any]],
) -> dict[str, tuple[float, float, float, float]]:
    """view -> (u0, v0, width, height) underbody px, read off the truth's view boxes."""
    geo: dict[str, tuple[float, float, float, float]] = {}
    for tf in truth:
        for c in tf.get("cars", ()):
            ox, oy = c["offset"]
            for v, info in c.get("views", {}).items():
                if v not in geo:
                    x, y, w, h = info["bbox"]
                    geo[v] = (round(x - ox), round(y - oy), float(w), float(h))
    return geo


def _truth_defects(
    truth: Sequence[Mapping[str, Any]], cfg: ScoreConfig
) -> tuple[dict[Key, _TruthDefect], set[int], set[int]]:
    """Truth defects, the cars that showed a view fully, and all cars."""
    W, H = cfg.frame_size
    defects: dict[Key, _TruthDefect] = {}
    peak_views: set[tuple[int, str]] = set()
    all_cars: set[int] = set()
    for tf in truth:
        for c in tf.get("cars", ()):
            car = int(c["id"])
            all_cars.add(car)
            for v, info in c.get("views", {}).items():
                if info.get("peak") or float(info.get("visible", 0.0)) >= 1.0:
                    peak_views.add((car, v))
            for d in c.get("defects", ()):
                key = (car, int(d["id"]))
                td = defects.get(key)
                if td is None:
                    td = defects[key] = _TruthDefect(
                        car,
                        key[1],
                        str(d.get("type", "?")),
                        str(d.get("size", "?")),
                        str(d["view"]),
                        np.asarray(d["polygon_ub"], np.float64),
                    )
                if td.first_visible is None:
                    px = np.asarray(d["polygon_px"], np.float64)
                    if (
                        px[:, 0].min() >= 0
                        and px[:, 0].max() < W
                        and px[:, 1].min() >= 0
                        and px[:, 1].max() < H
                    ):
                        td.first_visible = (int(tf["index"]), float(tf["t"]))
    for td in defects.values():
        td.expected = (td.car, td.view) in peak_views
    return defects, {c for c, _ in peak_views}, all_cars


def _truth_car(cars: Sequence[Mapping[str, Any]], x: float, y: float, gate: float) -> int | None:
    best: tuple[float, int] | None = None
    for c in cars:
        d = math.hypot(c["offset"][0] - x, c["offset"][1] - y)
        if best is None or d < best[0]:
            best = (d, int(c["id"]))
    return best[1] if best is not None and best[0] <= gate else None


def _signed_dist(poly: np.ndarray, pt: np.ndarray) -> float:
    """Distance from ``pt`` to the polygon; <= 0 inside."""
    return -cv2.pointPolygonTest(poly.astype(np.float32), (float(pt[0]), float(pt[1])), True)


def _median(xs: Iterable[float]) -> float | None:
    a = list(xs)
    return round(float(np.median(a)), 4) if a else None


def _mean(xs: Iterable[float]) -> float | None:
    a = list(xs)
    return round(float(np.mean(a)), 4) if a else None


def score(
    overlays: Sequence[Mapping[str, Any]],
    truth: Sequence[Mapping[str, Any]],
    config: ScoreConfig | None = None,
    details: bool = False,
) -> dict[str, Any]:
    """Score ``overlays`` against ``truth`` (both as parsed JSON lines; see module doc).

    Raises:
        InputError: an overlay line whose ``seq`` is not a frame of the truth, or
            lines that are not overlays or verdicts.
    """
    cfg = config or ScoreConfig()
    by_index = {int(tf["index"]): tf for tf in truth}
    geo = _views_geometry(truth)
    defects, seen_cars, _all = _truth_defects(truth, cfg)
    ours: dict[Key, _Ours] = {}
    car_votes: dict[int, Counter[int]] = defaultdict(Counter)  # our car id -> truth cars
    verdicts: list[Mapping[str, Any]] = []
    n_frames = 0
    for line in overlays:
        kind = line.get("type", "overlay_frame")
        if kind == "car_verdict":
            verdicts.append(line)
            continue
        if kind != "overlay_frame":
            raise InputError(f"expected overlay_frame or car_verdict lines, got type {kind!r}")
        n_frames += 1
        verdicts.extend(line.get("verdicts") or ())  # repeated while fresh: deduplicated below
        seq = int(line["seq"])
        tf = by_index.get(seq)
        if tf is None:
            raise InputError(
                f"overlay seq {seq} is not a frame of the truth (frames 0..{len(truth) - 1}):"
                " overlays and truth are from different videos"
            )
        tr = line.get("track")
        if not tr:
            continue
        tc = _truth_car(tf.get("cars", ()), tr["x"], tr["y"], cfg.car_gate_px)
        if tc is not None:
            car_votes[int(tr["car_id"])][tc] += 1
        for d in line.get("defects", ()):
            if not d.get("confirmed") or int(d.get("defect_id", 0)) <= 0:
                continue
            u0, v0, w, h = geo[d["view"]]
            cuv = np.asarray(d["contour_uv"], np.float64).reshape(-1, 2)
            cub = cuv * (w, h) + (u0, v0)
            cen = np.asarray(d["centroid_uv"], np.float64) * (w, h) + (u0, v0)
            key = (int(tr["car_id"]), int(d["defect_id"]))
            o = ours.get(key)
            if o is None:
                o = ours[key] = _Ours(d["view"], (seq, float(tf["t"])), Counter(), [], [])
            if tc is not None:
                o.cars[tc] += 1
            o.centroids.append(cen)
            o.contours.append(cub)

    # match our ids to truth defects, in the order they were first shown
    matched: dict[Key, list[Key]] = defaultdict(list)
    false_ids: list[dict[str, Any]] = []
    for key, o in sorted(ours.items(), key=lambda kv: kv[1].first):
        tc = o.cars.most_common(1)[0][0] if o.cars else None
        cen = np.mean(o.centroids, axis=0)
        best: tuple[float, Key] | None = None
        for tk, td in defects.items():
            if td.car != tc or td.view != o.view:
                continue
            dist = _signed_dist(td.poly, cen)
            if best is None or dist < best[0]:
                best = (dist, tk)
        if best is not None and best[0] <= cfg.gate_px:
            matched[best[1]].append(key)
        else:
            false_ids.append(
                {
                    "car": tc,
                    "id": list(key),
                    "view": o.view,
                    "frames": len(o.contours),
                    "centroid_ub": [round(float(x), 1) for x in cen],
                }
            )

    per_defect: list[dict[str, Any]] = []
    for tk, td in sorted(defects.items()):
        if not td.expected:
            continue
        row: dict[str, Any] = {
            "car": td.car,
            "defect": td.did,
            "type": td.type,
            "size": td.size,
            "view": td.view,
            "found": tk in matched,
        }
        if tk in matched:
            first = ours[matched[tk][0]]
            row["iou"] = round(float(np.mean([poly_iou(c, td.poly) for c in first.contours])), 4)
            shown = min(ours[k].first for k in matched[tk])
            if td.first_visible is not None:
                dt = max(shown[1] - td.first_visible[1], 0.0)
                row["ttfc_s"] = round(dt, 4)
                row["ttfc_frames"] = round(dt * cfg.fps, 1)
            row["ids"] = len(matched[tk])
        per_defect.append(row)

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        found = [r for r in rows if r["found"]]
        return {
            "expected": len(rows),
            "found": len(found),
            "recall": round(len(found) / len(rows), 4) if rows else None,
            "iou_mean": _mean(r["iou"] for r in found),
            "ttfc_median_frames": _median(r["ttfc_frames"] for r in found if "ttfc_frames" in r),
        }

    n_cars = max(len(seen_cars), 1)
    out: dict[str, Any] = {
        "frames": n_frames,
        "cars": len(seen_cars),
        "defects_expected": len(per_defect),
        "defects_found": sum(r["found"] for r in per_defect),
        "recall": round(sum(r["found"] for r in per_defect) / len(per_defect), 4)
        if per_defect
        else None,
        "confirmed_ids": len(ours),
        "false_ids": len(false_ids),
        "false_per_car": round(len(false_ids) / n_cars, 4),
        "duplicate_ids": sum(len(v) - 1 for v in matched.values()),
        "iou_mean": _mean(r["iou"] for r in per_defect if r["found"]),
        "ttfc_median_frames": _median(r["ttfc_frames"] for r in per_defect if "ttfc_frames" in r),
        "ttfc_median_ms": _median(1000 * r["ttfc_s"] for r in per_defect if "ttfc_s" in r),
        "by_type": {
            t: summary([r for r in per_defect if r["type"] == t])
            for t in sorted({r["type"] for r in per_defect})
        },
        "by_size": {
            s: summary([r for r in per_defect if r["size"] == s])
            for s in sorted({r["size"] for r in per_defect})
        },
        "false_by_car": dict(sorted(Counter(str(f["car"]) for f in false_ids).items())),
        "verdicts": _score_verdicts(verdicts, car_votes, defects, seen_cars, geo, cfg)
        if verdicts
        else None,
    }
    if details:
        out["per_defect"] = per_defect
        out["false_detail"] = false_ids
    return out


def _score_verdicts(
    verdicts: Sequence[Mapping[str, Any]],
    car_votes: Mapping[int, Counter[int]],
    defects: Mapping[Key, _TruthDefect],
    seen_cars: set[int],
    geo: Mapping[str, tuple[float, float, float, float]],
    cfg: ScoreConfig,
) -> dict[str, Any]:
    nok_cars = {td.car for td in defects.values() if td.expected}
    unique: dict[tuple[str, int], Mapping[str, Any]] = {}
    for vd in verdicts:
        unique.setdefault((str(vd.get("stream_id", "")), int(vd["car_id"])), vd)
    verdicts = list(unique.values())
    confusion: Counter[str] = Counter()
    clean = clean_nok = 0
    type_ok = size_ok = n_def = 0
    judged: set[int] = set()
    for vd in verdicts:
        votes = car_votes.get(int(vd["car_id"]))
        if not votes:
            confusion["untracked->" + str(vd["status"])] += 1
            continue
        tc = votes.most_common(1)[0][0]
        judged.add(tc)
        want = "NOK" if tc in nok_cars else "OK"
        confusion[f"{want}->{vd['status']}"] += 1
        if want == "OK":
            clean += 1
            clean_nok += vd["status"] == "NOK"
        for d in vd.get("defects", ()):
            cen = np.asarray(d["centroid_ub"], np.float64)
            best: tuple[float, _TruthDefect] | None = None
            for td in defects.values():
                if td.car == tc:
                    dist = _signed_dist(td.poly, cen)
                    if best is None or dist < best[0]:
                        best = (dist, td)
            if best is not None and best[0] <= cfg.gate_px:
                n_def += 1
                type_ok += d.get("type_guess") == best[1].type
                size_ok += d.get("size_class") == best[1].size
    n = sum(confusion.values())
    right = confusion["NOK->NOK"] + confusion["OK->OK"]
    return {
        "verdicts": n,
        "cars_without_verdict": len(seen_cars - judged),
        "accuracy": round(right / n, 4) if n else None,
        "confusion": dict(sorted(confusion.items())),
        "clean_cars": clean,
        "clean_nok_share": round(clean_nok / clean, 4) if clean else None,
        "defects_matched": n_def,
        "type_guess_accuracy": round(type_ok / n_def, 4) if n_def else None,
        "size_class_accuracy": round(size_ok / n_def, 4) if n_def else None,
    }
