"""The simulator's files and formats (docs/contracts.md: Simulator outputs)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from xrbridge.names import DEFECTS, VIEWS


def _imread(path: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    img = cv2.imread(path, flags)
    assert img is not None, path
    return img


def _truth(d: Path) -> list[dict]:
    return [json.loads(s) for s in (d / "truth.jsonl").read_text().splitlines()]


def test_video_frames_match_truth_lines(sim_small: Path) -> None:
    truth = _truth(sim_small)
    cap = cv2.VideoCapture(str(sim_small / "line.mp4"))
    assert cap.isOpened()
    n = 0
    shape = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        shape = frame.shape
        n += 1
    assert n == len(truth) > 100
    assert shape == (480, 848, 3)


def test_truth_lines_follow_the_contract(sim_small: Path) -> None:
    truth = _truth(sim_small)
    scene = json.loads((sim_small / "scene.json").read_text())
    assert [r["index"] for r in truth] == list(range(len(truth)))
    src = [r["source_index"] for r in truth]
    assert src == sorted(set(src))
    assert len(src) < scene["source_frames"]  # frames were dropped (drop_frames 0.2)
    fps = scene["fps"]
    for r in truth:
        assert abs(r["t"] - r["source_index"] / fps) < 1e-5  # real time, gaps where dropped
    peaks: dict[tuple[int, str], int] = {}
    for r in truth:
        for c in r["cars"]:
            assert set(c) == {"id", "variant", "offset", "velocity", "views", "defects"}
            assert c["velocity"][0] <= 0  # right to left
            x, _y = c["offset"]
            assert x < 848 and x + scene["underbody_size"][0] > 0
            for v, info in c["views"].items():
                assert v in VIEWS and 0 < info["visible"] <= 1
                rect = scene["views"][v]
                assert info["bbox"][2:] == [rect["width"], rect["height"]]
                assert abs(info["bbox"][0] - (x + rect["u0"])) < 1e-2
                if info["peak"]:
                    assert info["visible"] == 1.0
                    peaks[(c["id"], v)] = peaks.get((c["id"], v), 0) + 1
            for d in c["defects"]:
                assert d["type"] in DEFECTS and d["view"] in VIEWS
                assert d["size"] in ("small", "medium", "large")
                pub = np.asarray(d["polygon_ub"])
                ppx = np.asarray(d["polygon_px"])
                assert np.allclose(ppx, pub + np.asarray(c["offset"]), atol=0.02)
    # every car's every view peaks exactly once in the file
    assert len(peaks) == 3 * len(VIEWS)
    assert set(peaks.values()) == {1}


def test_scene_templates_and_roi(sim_small: Path) -> None:
    scene = json.loads((sim_small / "scene.json").read_text())
    assert scene["frame_size"] == [848, 480]
    assert {v: len(rs) for v, rs in scene["regions"].items()} == {
        "lower_front": 4,
        "lower_center": 8,
        "lower_back": 5,
    }
    views = json.loads((sim_small / "templates" / "views.json").read_text())
    assert views == scene["views"]
    for v in VIEWS:
        t = _imread(str(sim_small / "templates" / f"{v}.png"), cv2.IMREAD_UNCHANGED)
        roi = _imread(str(sim_small / "roi" / f"{v}.png"), cv2.IMREAD_UNCHANGED)
        assert t.shape == (views[v]["height"], views[v]["width"], 3) and t.dtype == np.uint8
        assert roi.shape == t.shape[:2]
        assert set(np.unique(roi)) == {0, 255}
        assert 0.05 < (roi > 0).mean() < 0.6
        for reg in scene["regions"][v]:
            assert reg["bead_width"] > 0
            # the ROI covers every trajectory point
            for u, vv in reg["polyline_ub"]:
                x, y = round(u - views[v]["u0"]), round(vv - views[v]["v0"])
                assert roi[min(y, roi.shape[0] - 1), min(x, roi.shape[1] - 1)] == 255
    cars = scene["cars"]
    assert len(cars) == 3 and any(c["defects"] for c in cars)
    assert scene["config"]["seed"] == scene["seed"] == 11


def test_truth_velocity_matches_offsets(sim_small: Path) -> None:
    """Offsets move by the integrated truth velocity (up to the camera shake)."""
    truth = _truth(sim_small)
    track: dict[int, list[tuple[float, float, float, float, float]]] = {}
    for r in truth:
        for c in r["cars"]:
            track.setdefault(c["id"], []).append((r["t"], *c["offset"], *c["velocity"]))
    checked = 0
    for rows in track.values():
        a = np.asarray(rows)
        for i in range(0, len(a) - 12, 6):
            j = i + 10
            dt = a[j, 0] - a[i, 0]
            vx = np.trapezoid(a[i : j + 1, 3], a[i : j + 1, 0]) / dt
            vy = np.trapezoid(a[i : j + 1, 4], a[i : j + 1, 0]) / dt
            assert abs((a[j, 1] - a[i, 1]) / dt - vx) < 12.0
            assert abs((a[j, 2] - a[i, 2]) / dt - vy) < 6.0
            checked += 1
    assert checked > 20
    assert any(abs(r[4]) > 0.5 for rows in track.values() for r in rows)  # cars sway a little
