"""``xrbridge synth``: the five sealant defects drawn on a category's good images, with masks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = (
    "draw synthetic sealant defects (missing, misalignment, bifurcation, narrowing, hole) "
    "with exact masks on CAT's good images; writes an MVTec-layout data set + labels.json"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, type=Path, help="category folder (MVTec layout)")
    p.add_argument("--out", required=True, type=Path, help="output category folder (replaced)")
    p.add_argument(
        "--types",
        default="all",
        help="comma-separated defect types (default all five: missing,misalignment,"
        "bifurcation,narrowing,hole)",
    )
    p.add_argument("--per-image", type=int, default=1, help="defects per image, same type (1)")
    p.add_argument(
        "--size",
        choices=("small", "medium", "large", "all"),
        default="all",
        help="size class (default all: small, medium, large in turn)",
    )
    p.add_argument(
        "--count",
        type=int,
        default=None,
        help="defective images to write (default: test/good images x types)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same data set")
    p.add_argument(
        "--paths",
        type=Path,
        default=None,
        help="paths file: bead polylines + widths per region (default CAT/paths.json)",
    )
    p.add_argument(
        "--sealant",
        choices=("auto", "paths", "roi", "detect"),
        default="auto",
        help="where the sealant is: auto = paths file, else CAT/roi.png, else "
        "bead detection (default auto)",
    )
    p.add_argument(
        "--preview",
        type=Path,
        default=None,
        help="write a grid PNG (original | defect | mask, one row per type)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from xrbridge.names import DEFECTS
    from xrbridge.synth import SynthConfig, synthesize

    types = (
        DEFECTS
        if args.types.strip() == "all"
        else tuple(t.strip() for t in args.types.split(",") if t.strip())
    )
    cfg = SynthConfig(
        data=args.data,
        out=args.out,
        types=types,
        per_image=args.per_image,
        size=None if args.size == "all" else args.size,
        count=args.count,
        seed=args.seed,
        paths=args.paths,
        sealant=args.sealant,
        preview=args.preview,
        progress=not args.no_progress,
    )
    print(json.dumps(synthesize(cfg)))
    return 0
