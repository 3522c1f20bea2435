"""Ground truth held against the rendered pixels."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from xrbridge.sim.camera import Camera
from xrbridge.sim.config import CameraConfig
from xrbridge.sim.layout import build_layout, resample
from xrbridge.sim.render import compose, render_car
from xrbridge.sim.sealant import DefectSpec, defect_polygon


def _imread(path: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    img = cv2.imread(path, flags)
    assert img is not None, path
    return img


def test_truth_offset_is_where_the_template_is_found(sim_small: Path) -> None:
    truth = [json.loads(s) for s in (sim_small / "truth.jsonl").read_text().splitlines()]
    peaks = {
        r["index"]: [
            (c["variant"], v, i["bbox"])
            for c in r["cars"]
            for v, i in c["views"].items()
            if i["peak"]
        ]
        for r in truth
    }
    templates = {
        v: _imread(str(p), cv2.IMREAD_GRAYSCALE)
        for v, p in ((p.stem, p) for p in (sim_small / "templates").glob("*.png"))
    }
    cap = cv2.VideoCapture(str(sim_small / "line.mp4"))
    checked = set()
    for i in range(len(truth)):
        ok, frame = cap.read()
        assert ok
        for variant, view, bbox in peaks[i]:
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            res = cv2.matchTemplate(gray, templates[view], cv2.TM_CCOEFF_NORMED)
            _, score, _, loc = cv2.minMaxLoc(res)
            assert score > 0.5, (view, score)
            assert abs(loc[0] - bbox[0]) <= 1.5 and abs(loc[1] - bbox[1]) <= 1.5, (loc, bbox)
            # the other views' templates score lower here: each view is distinctive
            for other, tpl in templates.items():
                if other != view:
                    assert cv2.matchTemplate(gray, tpl, cv2.TM_CCOEFF_NORMED).max() < score
            checked.add((variant, view))
    assert len(checked) >= 3 * 1


@pytest.fixture(scope="module")
def defect_scene() -> dict:
    """One car with a missing and a narrowing segment, in a frame with all camera effects."""
    lay = build_layout(1.0)
    regs = {r.name: r for r in lay.all_regions()}
    defects = [
        DefectSpec(0, "missing", "lower_center", "lower_center_01", "medium", 150.0, 40.0, 0.0, 1),
        DefectSpec(1, "narrowing", "lower_center", "lower_center_02", "large", 260.0, 70.0, 0.4, 1),
    ]
    car = render_car(lay, 5, "estate", defects, seed=3)
    cam = Camera(CameraConfig(), (848, 480), 1.0, np.random.default_rng(1))
    rect = lay.views["lower_center"]
    ox, oy = (848 - rect.width) / 2 - rect.u0 + 0.37, 20.4
    frame = compose(cam, [(car, ox, oy)], 420.0, 2.0, np.random.default_rng(2))
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return {"lay": lay, "regs": regs, "defects": defects, "gray": gray, "off": (ox, oy)}


def _profile(gray: np.ndarray, p: np.ndarray, n: np.ndarray, half: float) -> np.ndarray:
    """Grey values across the path at p (frame px) along normal n, 0.5 px steps."""
    ts = np.arange(-half, half + 0.01, 0.5)
    pts = (p[None, :] + ts[:, None] * n[None, :]).astype(np.float32)
    return cv2.remap(
        gray, pts[:, 0].reshape(1, -1), pts[:, 1].reshape(1, -1), cv2.INTER_LINEAR
    ).ravel()


def _split(d: DefectSpec, path, off) -> tuple[np.ndarray, np.ndarray]:
    s = path.s
    core = (s > d.s0 + 0.2 * d.length) & (s < d.s0 + 0.8 * d.length)
    around = ((s > d.s0 - 70) & (s < d.s0 - 20)) | (
        (s > d.s0 + d.length + 20) & (s < d.s0 + d.length + 70)
    )
    return core, around


def test_missing_polygon_has_no_bead_inside(defect_scene: dict) -> None:
    d = defect_scene["defects"][0]
    reg = defect_scene["regs"][d.region]
    gray, off = defect_scene["gray"], np.asarray(defect_scene["off"])
    path = resample(reg.points)
    core, around = _split(d, path, off)
    centre = [gray[round(y), round(x)] for x, y in path.p + off]
    bead = float(np.median(np.asarray(centre)[around]))
    sides = [
        gray[round(y), round(x)]
        for sign in (-1, 1)
        for x, y in path.p[core] + sign * path.n[core] * (reg.bead_width + 8) + off
    ]
    metal = float(np.median(sides))  # the metal beside the gap, under the same light
    assert bead > metal + 40  # the bead is much lighter than the metal
    thr = (bead + metal) / 2
    # inside the truth polygon nothing looks like sealant
    poly = defect_polygon(d, reg, 3.0) + off
    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32).reshape(-1, 1, 2)], 255)
    core_mask = np.zeros_like(mask)
    a, b = path.p[core][[0, -1]] + off
    cv2.line(
        core_mask,
        tuple(np.round(a).astype(int)),
        tuple(np.round(b).astype(int)),
        255,
        int(reg.bead_width),
    )
    inside = gray[(mask > 0) & (core_mask > 0)]
    assert inside.size > 50
    # (a few pixels may catch a lamp reflection or JPEG ringing at the bead ends)
    assert (inside > thr).mean() < 0.08
    assert float(np.median(inside)) < metal + 0.25 * (bead - metal)


def test_narrowing_is_narrower_than_the_bead_around_it(defect_scene: dict) -> None:
    d = defect_scene["defects"][1]
    reg = defect_scene["regs"][d.region]
    gray, off = defect_scene["gray"], np.asarray(defect_scene["off"])
    path = resample(reg.points)
    core, around = _split(d, path, off)
    widths = []
    for i in range(len(path.s)):
        prof = _profile(gray, path.p[i] + off, path.n[i], reg.bead_width * 1.6)
        lo, hi = np.percentile(prof, 10), np.percentile(prof, 95)
        widths.append(0.5 * float((prof > (lo + hi) / 2).sum()))
    w = np.asarray(widths)
    w_core, w_around = float(np.median(w[core])), float(np.median(w[around]))
    assert w_around == pytest.approx(reg.bead_width, rel=0.3)
    assert w_core < 0.75 * w_around
    # and the truth polygon covers the narrowed stretch
    poly = defect_polygon(d, reg, 3.0)
    inside = [
        cv2.pointPolygonTest(poly.astype(np.float32), (float(x), float(y)), False) >= 0
        for x, y in path.p[core]
    ]
    assert all(inside)
