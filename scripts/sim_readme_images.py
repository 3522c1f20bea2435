"""Render the README pictures of the simulator into docs/img/ (sim_*.png).

    python scripts/sim_readme_images.py [--out docs/img]

A full frame, a close-up of each defect type (as the camera records it, with
the truth polygon drawn beside it) and a view's ROI mask over its template.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from xrbridge.sim.camera import Camera
from xrbridge.sim.config import CameraConfig
from xrbridge.sim.layout import ROI_MARGIN, build_layout
from xrbridge.sim.render import compose, render_car, render_reference
from xrbridge.sim.sealant import DefectSpec, bead_mask, defect_polygon

DEFECTS = [  # type, region, s0, length, amount, side
    ("missing", "lower_center_01", 150.0, 38.0, 0.0, 1),
    ("misalignment", "lower_center_02", 240.0, 57.0, 20.4, 1),
    ("bifurcation", "lower_center_07", 120.0, 60.0, 8.0, 1),
    ("narrowing", "lower_center_01", 330.0, 60.0, 0.4, 1),
    ("hole", "lower_center_02", 400.0, 10.0, 0.6, 1),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/img")
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    lay = build_layout(1.0)
    regs = {r.name: r for r in lay.all_regions()}
    specs = [
        DefectSpec(i, t, "lower_center", r, "medium", s0, ln, a, sd)
        for i, (t, r, s0, ln, a, sd) in enumerate(DEFECTS)
    ]
    car = render_car(lay, 1, "sedan", specs, seed=5)
    cam = Camera(CameraConfig(), (848, 480), 1.0, np.random.default_rng(2))
    rect = lay.views["lower_center"]
    ox, oy = (848 - rect.width) / 2 - rect.u0 - 60.3, 20.2
    frame = compose(cam, [(car, ox, oy)], 420.0, 3.0, np.random.default_rng(3))
    cv2.imwrite(str(out / "sim_frame.png"), frame, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    tiles = []
    for d in specs:
        poly = defect_polygon(d, regs[d.region], 3.0) + np.array([ox, oy])
        cx, cy = poly.mean(axis=0)
        x0, y0 = int(cx) - 48, int(cy) - 40
        crop = frame[y0 : y0 + 80, x0 : x0 + 96].copy()
        ann = crop.copy()
        p = np.round((poly - (x0, y0)) * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(ann, [p], True, (0, 0, 255), 1, cv2.LINE_AA, 4)
        pair = np.concatenate([crop, np.full((80, 4, 3), 255, np.uint8), ann], axis=1)
        big = cv2.resize(pair, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        label = np.full((24, big.shape[1], 3), 255, np.uint8)
        cv2.putText(
            label, d.type, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA
        )
        tile = np.concatenate([label, big], axis=0)
        cv2.imwrite(str(out / f"sim_defect_{d.type}.png"), tile)
        tiles.append(tile)
    sep = np.full((tiles[0].shape[0], 8, 3), 255, np.uint8)
    parts: list[np.ndarray] = []
    for t in tiles:
        parts += [t, sep]
    row = np.concatenate(parts[:-1], axis=1)
    row = cv2.resize(row, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(out / "sim_defects.png"), row, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    ref = render_reference(lay)
    for v in ("lower_center",):
        r = lay.views[v]
        tpl = ref[r.v0 : r.v0 + r.height, r.u0 : r.u0 + r.width]
        roi = bead_mask(lay, v, ROI_MARGIN)
        over = tpl.copy()
        over[roi == 0] = (over[roi == 0] * 0.3).astype(np.uint8)
        both = np.concatenate(
            [cv2.cvtColor(roi, cv2.COLOR_GRAY2BGR), np.full((r.height, 8, 3), 255, np.uint8), over],
            axis=1,
        )
        cv2.imwrite(
            str(out / f"sim_roi_{v}.png"),
            cv2.resize(both, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA),
        )


if __name__ == "__main__":
    main()
