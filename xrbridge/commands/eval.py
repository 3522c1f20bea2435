"""``xrbridge eval``: the paper's metrics of one model on one category's test split."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = (
    "run a model (model.onnx + manifest.json) over CAT/test and write metrics.json, "
    "details.json, records.csv, report.md and PNG figures into --out"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="MODEL_DIR from `xrbridge train`")
    parser.add_argument("--data", required=True, type=Path, help="category folder (MVTec layout)")
    parser.add_argument("--out", required=True, type=Path, help="report folder (created)")
    roi = parser.add_mutually_exclusive_group()
    roi.add_argument(
        "--roi",
        type=Path,
        default=None,
        help="evaluation ROI PNG (255 analysed): input and map are masked outside it "
        "(default: CAT/roi.png when it exists)",
    )
    roi.add_argument("--no-roi", action="store_true", help="ignore CAT/roi.png")
    parser.add_argument("--bins", type=int, default=1 << 16, help="pixel-score bins (power of 2)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument(
        "--runtime",
        default=None,
        help="onnxruntime | openvino (default: manifest's, else onnxruntime)",
    )
    parser.add_argument("--precision", default=None, help="fp32 | bf16 (bf16: openvino only)")
    parser.add_argument("--grid", type=int, default=3, help="best and worst samples in the grid")
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        metavar="K",
        help="evaluate every K-th image of each test folder (sorted names; default 1 = all). "
        "A quick look at a large set: the report says so",
    )
    parser.add_argument("--no-report", action="store_true", help="metrics only, no figures")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--label", default=None, help="run label for `compare` (default: model)")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed (default: manifest training.seed)"
    )


def run(args: argparse.Namespace) -> int:
    from xrbridge.errors import ArtifactError, UsageError
    from xrbridge.eval import dataset
    from xrbridge.eval.runner import run as run_eval
    from xrbridge.eval.summary import summarise
    from xrbridge.eval.write import run_info, write_outputs
    from xrbridge.models.runtime import load_model

    if args.bins < 2 or args.bins & (args.bins - 1):
        raise UsageError(f"--bins must be a power of two >= 2, got {args.bins}")
    if not (args.model / "manifest.json").is_file():
        raise ArtifactError(
            f"model folder {args.model} has no manifest.json: expected model.onnx + manifest.json "
            "written by `xrbridge train`"
        )
    if args.every < 1:
        raise UsageError(f"--every must be >= 1, got {args.every}")
    samples = dataset.subsample(dataset.list_test_set(args.data), args.every)
    roi_path: Path | None = None
    if args.roi is not None:
        roi_path = args.roi
    elif not args.no_roi and (args.data / "roi.png").is_file():
        roi_path = args.data / "roi.png"
    roi = dataset.read_roi(roi_path) if roi_path is not None else None
    model = load_model(args.model, args.runtime, args.precision, threads=args.threads)
    result = run_eval(model, samples, roi=roi, n_bins=args.bins, progress=not args.no_progress)
    threshold = float(model.manifest["thresholds"]["image"])
    metrics, details = summarise(result, threshold)
    info = run_info(model.manifest, args, roi_path, len(samples))
    details["run"] = info
    write_outputs(args.out, metrics, details, result)
    if not args.no_report:
        from xrbridge.eval.report import write_report

        write_report(args.out, model, metrics, details, result, roi, grid=args.grid)
    for note in sorted(set(result.notes))[:5]:
        print(f"xrbridge eval: note: {note}", file=sys.stderr)
    if len(set(result.notes)) > 5:
        print(
            f"xrbridge eval: note: ... {len(set(result.notes)) - 5} more in details.json",
            file=sys.stderr,
        )
    print(json.dumps(metrics))
    return 0
