"""``xrbridge demo``: the main job on the embedded default line (interim version).

Until the bridge lands, the demo replays the embedded recorded line (or a
freshly rendered one with ``--render``), finds the three views in it by
template matching and prints a JSON summary: frames, cars, defects, and how
well the views were found against the ground truth.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "run xrbridge on the embedded sealant-line video and print a summary"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--line", default=None,
                   help="a simulate output folder (default: the embedded line)")
    p.add_argument("--render", default=None, metavar="DIR",
                   help="render a fresh 3-car line into DIR first and use it")
    p.add_argument("--seed", type=int, default=0, help="seed for --render")


def run(args: argparse.Namespace) -> int:
    import time

    import cv2
    import numpy as np

    from xrbridge.errors import InputError, VideoError
    from xrbridge.names import VIEWS
    from xrbridge.sim import SimConfig, embedded_line_dir, simulate

    t0 = time.perf_counter()
    if args.render:
        simulate(SimConfig(cars=3, seed=args.seed, dataset=False), args.render)
        line = Path(args.render)
    else:
        line = Path(args.line) if args.line else embedded_line_dir()
    video = line / "line.mp4"
    truth_path = line / "truth.jsonl"
    if not video.is_file() or not truth_path.is_file():
        raise InputError(f"expected line.mp4 and truth.jsonl in {line}, got {sorted(p.name for p in line.glob('*')) if line.is_dir() else 'no folder'}")
    truth = [json.loads(s) for s in truth_path.read_text().splitlines() if s.strip()]
    templates = {v: cv2.imread(str(line / "templates" / f"{v}.png"), cv2.IMREAD_GRAYSCALE)
                 for v in VIEWS}
    missing = [v for v, t in templates.items() if t is None]
    if missing:
        raise InputError(f"expected templates/<view>.png in {line}, missing {missing}")
    peaks = {(c["id"], v): (rec["index"], info["bbox"]) for rec in truth for c in rec["cars"]
             for v, info in c["views"].items() if info["peak"]}
    by_index: dict[int, list[tuple[str, list[float]]]] = {}
    for (_, v), (i, bb) in peaks.items():
        by_index.setdefault(i, []).append((v, bb))
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise VideoError(f"cannot open video {video}")
    n = 0
    scores: list[float] = []
    errors: list[float] = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        for v, bb in by_index.get(n, []):
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            res = cv2.matchTemplate(gray, templates[v], cv2.TM_CCOEFF_NORMED)  # type: ignore[arg-type]
            _, score, _, loc = cv2.minMaxLoc(res)
            scores.append(float(score))
            errors.append(float(np.hypot(loc[0] - bb[0], loc[1] - bb[1])))
        n += 1
    cap.release()
    cars = {c["id"] for rec in truth for c in rec["cars"]}
    defects = {d["id"]: d["type"] for rec in truth for c in rec["cars"] for d in c["defects"]}
    summary = {
        "line": str(line),
        "frames": n,
        "truth_lines": len(truth),
        "duration_s": truth[-1]["t"] if truth else 0.0,
        "cars": len(cars),
        "defects": sorted(defects.values()),
        "views_matched": len(scores),
        "match_score_min": round(min(scores), 3) if scores else None,
        "match_error_px_max": round(max(errors), 2) if errors else None,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    print(json.dumps(summary))
    return 0
