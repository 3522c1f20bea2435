"""How well does `synth` find the sealant without a paths file? IoU against the truth.

On the simulator's data set views, the true bead footprint is the layout's
bead polylines drawn at their bead width (``xrbridge.sim.sealant.bead_mask``
with no margin; the per-car jitter of about a pixel is not in it). For each
image: IoU of the bead mask from automatic detection (no ROI, no paths) and
of the tracks found from the view's ROI mask (drawn at their measured width).
A paths file made from ``scene.json`` is the truth itself (IoU 1).

    python bench/synth_detect.py --data SIM/dataset --scene SIM/scene.json --n 10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from xrbridge.names import VIEWS
from xrbridge.sim.layout import build_layout
from xrbridge.sim.sealant import bead_mask
from xrbridge.synth import detect_tracks, tracks_from_roi
from xrbridge.synth.tracks import rasterize


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path, help="simulator dataset/ folder")
    ap.add_argument("--scene", required=True, type=Path, help="the run's scene.json")
    ap.add_argument("--n", type=int, default=10, help="test/good images per view")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    scene = json.loads(args.scene.read_text())
    layout = build_layout(scene["config"]["size"][1] / 480)
    result = {}
    for view in VIEWS:
        truth = bead_mask(layout, view, 0.0) > 0
        roi = cv2.imread(str(args.data / view / "roi.png"), 0)
        rows = {"detect": [], "roi": [], "detect_s": []}
        for p in sorted((args.data / view / "test" / "good").glob("*.png"))[: args.n]:
            img = cv2.imread(str(p))
            t0 = time.perf_counter()
            _, m = detect_tracks(img)
            rows["detect_s"].append(time.perf_counter() - t0)
            rows["detect"].append(iou(truth, m > 0))
            rows["roi"].append(iou(truth, rasterize(tracks_from_roi(img, roi), truth.shape) > 0))
        result[view] = {k: round(float(np.mean(v)), 3) for k, v in rows.items()} | {
            "n": len(rows["detect"])
        }
        print(view, json.dumps(result[view]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
