"""``xrbridge train``: fit an anomaly model on good images, calibrate, export ONNX + manifest."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "train an anomaly model on CAT/train/good; writes MODEL_DIR/model.onnx + manifest.json"


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("x", ",").split(",")
    try:
        vals = [int(p) for p in parts if p.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected N or HxW, got {text!r}") from exc
    if len(vals) == 1:
        return vals[0], vals[0]
    if len(vals) == 2:
        return vals[0], vals[1]
    raise argparse.ArgumentTypeError(f"expected N or HxW, got {text!r}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="patchcore | efficientad-s | efficientad-m | ...")
    p.add_argument("--data", required=True, type=Path, help="category folder in the MVTec layout")
    p.add_argument("--out", required=True, type=Path, help="MODEL_DIR to write")
    p.add_argument("--roi", default=None,
                   help="ROI mask PNG (default: CAT/roi.png if present; 'none' to disable)")
    p.add_argument("--backbone", default="efficientnet-lite0",
                   help="efficientnet-lite0 (default) | efficientnet-lite1 | efficientnet-lite2")
    p.add_argument("--image-size", type=_size, default=(256, 256), metavar="N|HxW",
                   help="model input size, multiples of 32 (default 256)")
    p.add_argument("--steps", type=int, default=None, help="training steps (trained models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--holdout", type=float, default=0.1,
                   help="fraction of train/good held out for calibration (default 0.1)")
    p.add_argument("--val", type=Path, default=None,
                   help="validation folder with test/<defect>/ + ground_truth/ for thresholds")
    g = p.add_argument_group("patchcore")
    g.add_argument("--coreset-ratio", type=float, default=None, help="bank fraction (default 0.03)")
    g.add_argument("--max-bank", type=int, default=None, help="bank size cap (default 8192)")
    g.add_argument("--proj-dim", type=int, default=None, help="PCA dims, 0 = none (default 128)")
    g.add_argument("--search-budget", type=int, default=None,
                   help="max bank entries x dims; fewer PCA dims for a larger bank (default 524288)")
    g.add_argument("--layers", default=None, help="backbone stages (default s8,s16)")
    g.add_argument("--image-score", choices=("eq4", "topk"), default=None,
                   help="image score: mean of the top-k patches (default) or eq. 4 on the top patch")
    g.add_argument("--topk", type=int, default=None, help="patches averaged by --image-score topk (10)")
    g.add_argument("--position-norm", choices=("0", "1", "auto"), default=None,
                   help="1 = z-score patch scores per position on held-out good images; "
                        "auto (default) = 1 with >= 30 held-out images")
    g.add_argument("--position-prior", type=float, default=None,
                   help="weight of the pooled statistics against N held-out images (default 30)")
    g = p.add_argument_group("efficientad-s / efficientad-m")
    g.add_argument("--distil-steps", type=int, default=None,
                   help="teacher distillation steps (default 60; the paper: 60,000 on ImageNet)")
    g.add_argument("--student-crop", type=int, default=None,
                   help="student training crop side, multiple of 4 (default 128; 0 = whole image)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from xrbridge.errors import UsageError
    from xrbridge.models.framework import TrainConfig, train

    if not 0.0 < args.holdout < 1.0:
        raise UsageError(f"--holdout must be in (0, 1), got {args.holdout}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device visible to torch")
    opts = {"coreset_ratio": args.coreset_ratio, "max_bank": args.max_bank,
            "proj_dim": args.proj_dim, "search_budget": args.search_budget,
            "layers": args.layers, "image_score": args.image_score,
            "topk": args.topk, "position_norm": args.position_norm,
            "position_prior": args.position_prior,
            "distil_steps": args.distil_steps, "student_crop": args.student_crop}
    cfg = TrainConfig(
        model=args.model, data=args.data, out=args.out, roi=args.roi, backbone=args.backbone,
        image_size=args.image_size, steps=args.steps, seed=args.seed, device=args.device,
        holdout=args.holdout, val=args.val,
        options={k: v for k, v in opts.items() if v is not None}, progress=not args.quiet,
    )
    manifest = train(cfg).manifest
    summary = {"out": str(args.out), "model": manifest["model"], "category": manifest["category"],
               "training": manifest["training"],
               "score_normalization": manifest["score_normalization"]}
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0
