"""``xrbridge extract VIDEO --templates DIR --out DIR``: view crops and tracks from a video."""

from __future__ import annotations

import argparse

HELP = (
    "template matching + Kalman tracking over a video: per-view peak crops "
    "(aligned to the templates) and tracks.jsonl"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", help="video file (e.g. the simulator's line.mp4)")
    p.add_argument("--templates", required=True, help="folder with <view>.png and views.json")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.6,
        help="minimum TM_CCOEFF_NORMED score of a match (default 0.6)",
    )
    p.add_argument(
        "--timestamps",
        default=None,
        help="frame times: truth.jsonl (its 't') or one number per line; "
        "default: the video's own times (dropped frames unseen)",
    )
    p.add_argument(
        "--representation",
        choices=("grad", "gray"),
        default="grad",
        help="image representation matched (grad: lighting-robust, default)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from xrbridge.core.matching import MatchConfig
    from xrbridge.extract import extract

    summary = extract(
        Path(args.video),
        Path(args.templates),
        Path(args.out),
        match=MatchConfig(threshold=args.threshold, representation=args.representation),
        timestamps=Path(args.timestamps) if args.timestamps else None,
        progress=not args.no_progress,
    )
    print(json.dumps(summary))
    return 0
