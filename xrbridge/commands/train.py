"""``xrbridge train``: fit an anomaly model on good images, calibrate, export ONNX + manifest."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HELP = "train an anomaly model on CAT/train/good; writes MODEL_DIR/model.onnx + manifest.json"


#: Printed when EfficientAD's distilled teacher is trained at the default (short) schedule;
#: evidence in docs/models.md ("EfficientAD at its defaults").
SHORT_SCHEDULE = (
    "xrbridge train: warning: {model} --teacher distilled at the default schedule (60 "
    "distillation + 150 student steps) is a smoke test, not a usable model: on "
    "mpdd_metal_plate it gave image AUROC 0.59 +- 0.09 (3 seeds), with --distil-steps 300 "
    "--steps 1200 0.998 (about 25 min on 2 cores); on magnetic_tile and the simulator's views "
    "it stays at chance. Pass --distil-steps and --steps, or keep the default teacher "
    "(--teacher backbone)."
)


#: EfficientAD options that only the distilled teacher uses.
DISTIL_ONLY = ("distil_steps", "distil_batch", "distil_crop", "distil_lr", "texture_share")


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


def _option_flags() -> dict[str, dict[str, Any]]:
    """Field name -> {type, choices, help, models} over every registered model's options."""
    from xrbridge.models import options
    from xrbridge.models.framework import REGISTRY, options_class

    flags: dict[str, dict[str, Any]] = {}
    for model in REGISTRY:
        for name, typ, default, meta in options.fields(options_class(model)):
            if not meta.get("flag", True):
                continue
            f = flags.setdefault(
                name, {"type": typ, "choices": meta.get("choices"), "models": [], "help": []}
            )
            if f["type"] is not typ:
                raise TypeError(
                    f"option {name}: {model} declares {typ.__name__}, "
                    f"another model {f['type'].__name__}"
                )
            f["models"].append(model)
            text = f"{meta.get('help', '')} (default {default})"
            if text not in f["help"]:
                f["help"].append(text)
    return flags


def _add_option_flags(p: argparse.ArgumentParser) -> None:
    from xrbridge.models.options import flag_name

    g = p.add_argument_group("model options (from each model's options dataclass)")
    for name, f in _option_flags().items():
        typ = str if f["type"] is bool else f["type"]
        help_ = f"[{', '.join(f['models'])}] " + "; ".join(f["help"])
        g.add_argument(
            flag_name(name),
            dest=f"opt_{name}",
            type=typ,
            default=None,
            metavar=typ.__name__.upper(),
            choices=f["choices"],
            help=help_.replace("%", "%%"),
        )


def add_arguments(p: argparse.ArgumentParser) -> None:
    from xrbridge.models.framework import available_models

    p.add_argument("--model", required=True, help=" | ".join(available_models()))
    p.add_argument("--data", required=True, type=Path, help="category folder in the MVTec layout")
    p.add_argument("--out", required=True, type=Path, help="MODEL_DIR to write")
    p.add_argument(
        "--roi",
        default=None,
        help="ROI mask PNG (default: CAT/roi.png if present; 'none' to disable)",
    )
    p.add_argument(
        "--backbone",
        default="efficientnet-lite0",
        help="efficientnet-lite0 (default) | efficientnet-lite1 | efficientnet-lite2",
    )
    p.add_argument(
        "--image-size",
        type=_size,
        default=None,
        metavar="N|HxW",
        help="model input size, multiples of 32 (default: 256 on the short side, "
        "the long side after the training images' aspect ratio, see docs/models.md)",
    )
    p.add_argument("--steps", type=int, default=None, help="training steps (trained models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument(
        "--holdout",
        type=float,
        default=0.1,
        help="fraction of train/good held out for calibration (default 0.1)",
    )
    p.add_argument(
        "--holdout-choice",
        choices=("strata", "kcentre", "random"),
        default="strata",
        help="which good images are held out: one from each of N equal strata of their "
        "appearance (default), k-centre (the outskirts first) or a seeded random sample",
    )
    p.add_argument(
        "--val",
        type=Path,
        default=None,
        help="validation folder with test/<defect>/ + ground_truth/ for thresholds",
    )
    _add_option_flags(p)
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
    from xrbridge.models import options
    from xrbridge.models.framework import options_class

    given = {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}
    own = {name for name, *_ in options.fields(options_class(args.model))}
    foreign = sorted(set(given) - own)
    if foreign:
        raise UsageError(
            f"{', '.join(options.flag_name(k) for k in foreign)}: not an option of "
            f"{args.model}; its options: {', '.join(options.flag_name(k) for k in own)}"
        )
    distilled = given.get("teacher") == "distilled"
    unused = [options.flag_name(k) for k in DISTIL_ONLY if k in given]
    if args.model.startswith("efficientad") and not distilled and unused:
        print(
            f"xrbridge train: note: {', '.join(unused)} only apply to --teacher distilled; "
            "the default backbone teacher is not distilled, so they are ignored",
            file=sys.stderr,
        )
    if distilled and (args.steps is None or "distil_steps" not in given):
        print(SHORT_SCHEDULE.format(model=args.model), file=sys.stderr)
    cfg = TrainConfig(
        model=args.model,
        data=args.data,
        out=args.out,
        roi=args.roi,
        backbone=args.backbone,
        image_size=args.image_size,
        steps=args.steps,
        seed=args.seed,
        device=args.device,
        holdout=args.holdout,
        holdout_choice=args.holdout_choice,
        val=args.val,
        options=given,
        progress=not args.quiet,
    )
    manifest = train(cfg).manifest
    summary = {
        "out": str(args.out),
        "model": manifest["model"],
        "category": manifest["category"],
        "training": manifest["training"],
        "score_normalization": manifest["score_normalization"],
    }
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0
