"""Scoring extraction + tracking against the simulator's truth (no I/O).

Input: ``tracks.jsonl`` rows and ``peaks.json`` entries as written by
``xrbridge extract``, and ``truth.jsonl`` rows as written by ``xrbridge
simulate`` (each car: "id", "offset" [x, y], "velocity" [vx, vy], "views"
{view: {"peak": bool, ...}}). Used by the tests and bench/eval_track.py.

Metrics:
- ``rmse_px``: filtered origin vs truth offset over every (frame, track)
  associated with a truth car (nearest offset within ``assoc_px``).
- ``id_switches``: changes of track id along each truth car, plus tracks that
  were associated with more than one truth car.
- ``cars_missed`` / ``views_missed``: truth cars with a peak view that no track
  followed; (car, view) truth peaks without an extracted crop.
- ``peak_frame_error``: |extracted peak index - truth peak index| per (car, view).
- ``pred_err_px``: |filtered + velocity * h - truth| at the frame h ~ ``horizon``
  seconds later, split into constant speed (truth speed changed < ``const_tol``
  px/s over the horizon) and accelerating.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _stats(errs: Sequence[float]) -> dict[str, float | int | None]:
    if not errs:
        return {"n": 0, "rmse": None, "p95": None, "max": None}
    a = np.asarray(errs, dtype=float)
    return {
        "n": int(a.size),
        "rmse": round(float(np.sqrt(np.mean(a**2))), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "max": round(float(a.max()), 3),
    }


def evaluate(
    records: Sequence[Mapping[str, Any]],
    truth: Sequence[Mapping[str, Any]],
    peaks: Sequence[Mapping[str, Any]],
    *,
    assoc_px: float = 25.0,
    horizon: float = 0.2,
    const_tol: float = 2.0,
) -> dict[str, Any]:
    """Score one run. See the module docstring for the metrics. Returns a JSON-able dict."""
    if len(records) != len(truth):
        raise ValueError(f"tracks has {len(records)} frames, truth has {len(truth)}")
    times = np.array([float(r["t"]) for r in truth])
    errs: list[float] = []
    per_car_ids: dict[int, list[int]] = {}
    track_cars: dict[int, set[int]] = {}
    pred_const: list[float] = []
    pred_acc: list[float] = []
    for i, (rec, tru) in enumerate(zip(records, truth, strict=True)):
        cars = {int(c["id"]): c for c in tru["cars"]}
        # The frame closest to t + horizon (frames get dropped; accept +-10 ms).
        j = int(np.argmin(np.abs(times - (times[i] + horizon))))
        later = (
            {int(c["id"]): c for c in truth[j]["cars"]}
            if abs(times[j] - times[i] - horizon) < 0.011
            else {}
        )
        for tr in rec["tracks"]:
            fx, fy = tr["filtered"]
            best, bd = None, assoc_px
            for cid, c in cars.items():
                d = math.hypot(fx - c["offset"][0], fy - c["offset"][1])
                if d < bd:
                    best, bd = cid, d
            if best is None:
                continue
            errs.append(bd)
            ids = per_car_ids.setdefault(best, [])
            if not ids or ids[-1] != tr["id"]:
                ids.append(tr["id"])
            track_cars.setdefault(tr["id"], set()).add(best)
            if best in later:
                h = times[j] - times[i]
                px, py = fx + tr["velocity"][0] * h, fy + tr["velocity"][1] * h
                c2 = later[best]
                e = math.hypot(px - c2["offset"][0], py - c2["offset"][1])
                v1, v2 = cars[best].get("velocity"), c2.get("velocity")
                const = (
                    v1 is not None
                    and v2 is not None
                    and math.hypot(v2[0] - v1[0], v2[1] - v1[1]) < const_tol
                )
                (pred_const if const else pred_acc).append(e)
    truth_peaks: dict[tuple[int, str], int] = {}
    for tru in truth:
        for c in tru["cars"]:
            for view, vv in c.get("views", {}).items():
                if vv.get("peak"):
                    truth_peaks[(int(c["id"]), view)] = int(tru["index"])
    # Map extracted car ids to truth ids through the association above.
    id_map = {tid: next(iter(cs)) for tid, cs in track_cars.items() if len(cs) == 1}
    got = {}
    for p in peaks:
        if p["car"] in id_map:
            got[(id_map[p["car"]], p["view"])] = int(p["index"])
    peak_err = {f"{k[0]}/{k[1]}": abs(got[k] - v) for k, v in truth_peaks.items() if k in got}
    cars_with_peak = {k[0] for k in truth_peaks}
    switches = sum(len(v) - 1 for v in per_car_ids.values())
    switches += sum(len(cs) - 1 for cs in track_cars.values())
    return {
        "frames": len(records),
        "truth_cars": len(cars_with_peak),
        "tracks": len(track_cars),
        "rmse_px": _stats(errs)["rmse"],
        "position_err": _stats(errs),
        "id_switches": switches,
        "cars_missed": sorted(cars_with_peak - set(per_car_ids)),
        "views_missed": sorted(f"{k[0]}/{k[1]}" for k in truth_peaks if k not in got),
        "peak_frame_error_max": max(peak_err.values()) if peak_err else None,
        "peak_frame_error": peak_err,
        "pred_horizon_s": horizon,
        "pred_err_const": _stats(pred_const),
        "pred_err_accel": _stats(pred_acc),
        "unassociated_tracks": sorted(
            {tr["id"] for rec in records for tr in rec["tracks"]} - set(track_cars)
        ),
    }
