"""``xrbridge quantize``: an int8 copy of an EfficientAD artifact (ONNX Runtime static quantisation)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "write an int8 copy of an EfficientAD model, calibrated on good images (JSON summary)"

QUANTIZABLE = ("efficientad-s", "efficientad-m")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", required=True, type=Path, help="float32 MODEL_DIR from `xrbridge train`"
    )
    p.add_argument(
        "--data",
        required=True,
        type=Path,
        help="category folder (MVTec layout); train/good images calibrate the ranges",
    )
    p.add_argument("--out", required=True, type=Path, help="MODEL_DIR to write (the int8 copy)")
    p.add_argument(
        "--images",
        type=int,
        default=16,
        help="good images used for calibration (default 16, plus as many textures)",
    )
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from xrbridge.errors import UsageError
    from xrbridge.models.artifact import load_manifest
    from xrbridge.models.data import load_category, load_images
    from xrbridge.models.preprocess import manifest_roi
    from xrbridge.models.quantize import quantize_artifact

    if args.images < 1:
        raise UsageError(f"--images must be >= 1, got {args.images}")
    if args.out.resolve() == args.model.resolve():
        raise UsageError("--out must differ from --model (the float model is kept)")
    manifest = load_manifest(args.model)
    if manifest["model"] not in QUANTIZABLE:
        raise UsageError(
            f"quantize supports {', '.join(QUANTIZABLE)}; {args.model} is a "
            f"{manifest['model']!r} model"
        )
    cat = load_category(args.data)
    rng = np.random.default_rng(args.seed)
    paths = [cat.train[i] for i in sorted(rng.permutation(len(cat.train))[: args.images])]
    h, w = int(manifest["input"]["height"]), int(manifest["input"]["width"])
    x, kept = load_images(paths, h, w, manifest_roi(manifest))
    if not kept:
        raise UsageError(f"no readable calibration images in {cat.root / 'train' / 'good'}")
    out = quantize_artifact(args.model, args.out, x)
    json.dump(
        {"out": str(args.out), "model": out["model"], "quantization": out["quantization"]},
        sys.stdout,
        indent=2,
    )
    print()
    return 0
