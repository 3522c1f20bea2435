"""``xrbridge score OVERLAYS.jsonl --truth truth.jsonl``: overlays vs the simulator's truth, JSON out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "score a replayed overlay stream against the simulator's truth (recall, false ids, IoU)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overlays", type=Path, help="JSONL of `xrbridge replay VIDEO --out`")
    parser.add_argument(
        "--truth", type=Path, required=True, help="truth.jsonl of `xrbridge simulate`"
    )
    parser.add_argument(
        "--gate-px",
        type=float,
        default=15.0,
        help="underbody px an overlay's centroid may lie off a truth polygon (default 15)",
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frames per second for frame counts (default: scene.json beside the truth, else 30)",
    )
    parser.add_argument(
        "--details", action="store_true", help="also list every defect and false id"
    )


def run(args: argparse.Namespace) -> int:
    from xrbridge.errors import UsageError
    from xrbridge.eval.score import ScoreConfig, load_jsonl, score

    if args.gate_px < 0:
        raise UsageError(f"--gate-px must be >= 0, got {args.gate_px}")
    fps, size = 30.0, (848, 480)
    scene = args.truth.parent / "scene.json"
    if scene.is_file():
        meta = json.loads(scene.read_text())
        fps = float(meta.get("fps", fps))
        size = tuple(int(x) for x in meta.get("frame_size", size))  # type: ignore[assignment]
    if args.fps is not None:
        fps = args.fps
    cfg = ScoreConfig(gate_px=args.gate_px, fps=fps, frame_size=size)
    result = score(
        load_jsonl(args.overlays, "overlays"),
        load_jsonl(args.truth, "truth"),
        cfg,
        details=args.details,
    )
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0
