"""``xrbridge simulate``: render a sealant-line video with ground truth and data sets."""

from __future__ import annotations

import argparse
import json

HELP = (
    "render a sealant-line video (car underbodies passing the camera) with ground truth, "
    "templates, ROI masks and per-view MVTec data sets"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--cars", type=int, default=6, help="cars in the video (default 6)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same run")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    p.add_argument("--size", default="848x480", help="frame size WxH (default 848x480)")
    p.add_argument(
        "--defect-rate",
        type=float,
        default=0.4,
        help="fraction of cars with sealant defects (default 0.4)",
    )
    p.add_argument(
        "--drop-frames",
        type=float,
        default=0.0,
        help="fraction of frames dropped from the file, timestamps keep real time",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=420.0,
        help="mean conveyor speed, px/s at 480 px frame height (default 420)",
    )
    p.add_argument(
        "--stops", type=float, default=3.0, help="mean short conveyor stops per minute (default 3)"
    )
    p.add_argument(
        "--dataset-cars",
        type=int,
        default=0,
        help="extra cars rendered directly at peak for the data sets only",
    )
    p.add_argument(
        "--train-frames",
        type=int,
        default=5,
        help="frames per defect-free training car in the data sets (default 5)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="threads composing frames (default: one per CPU, at most 4)",
    )
    p.add_argument(
        "--drift-robot",
        default="",
        help="a robot of the line whose regions get extra defects (e.g. center_left; "
        "scene.json lists the robots)",
    )
    p.add_argument(
        "--drift-rate",
        type=float,
        default=0.0,
        help="with --drift-robot: chance per car of one more defect on its regions",
    )
    p.add_argument(
        "--drift-from",
        type=int,
        default=0,
        help="with --drift-robot: first car (index) that drifts (default 0)",
    )
    p.add_argument("--no-dataset", action="store_true", help="do not write dataset/")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from xrbridge.errors import UsageError
    from xrbridge.sim import SimConfig, parse_size, simulate

    cfg = SimConfig(
        cars=args.cars,
        seed=args.seed,
        fps=args.fps,
        size=parse_size(args.size),
        defect_rate=args.defect_rate,
        drop_frames=args.drop_frames,
        speed=args.speed,
        stops=args.stops,
        dataset_cars=args.dataset_cars,
        train_frames=args.train_frames,
        dataset=not args.no_dataset,
        drift_robot=args.drift_robot,
        drift_rate=args.drift_rate,
        drift_from=args.drift_from,
    )
    if args.workers < 0:
        raise UsageError(f"--workers must be >= 0, got {args.workers}")
    summary = simulate(cfg, args.out, progress=not args.no_progress, workers=args.workers or None)
    print(json.dumps(summary))
    return 0
