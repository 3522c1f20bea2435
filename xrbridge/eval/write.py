"""Files of a report folder that ``compare`` reads back.

metrics.json   exactly the contract's keys (docs/contracts.md)
details.json   bounds, counts, size classes, per-defect rows, notes, ``run``
records.csv    one row per test image: path, defect, label, score, area_ratio, map_max
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

from xrbridge.errors import InputError
from xrbridge.eval.runner import RunResult


def run_info(
    manifest: dict[str, Any], args: argparse.Namespace, roi_path: Path | None, n: int
) -> dict[str, Any]:
    """Who ran on what: the identity of a run for ``compare``.

    ``roi`` is True when either the model masks its own input (manifest
    ``roi.applied``) or the evaluation applied an ROI.
    """
    training = manifest.get("training", {})
    model_roi = bool(manifest.get("roi", {}).get("applied", False))
    seed = args.seed if args.seed is not None else training.get("seed")
    return {
        "model": manifest.get("model"),
        "label": args.label or manifest.get("model"),
        "backbone": manifest.get("backbone"),
        "category": Path(args.data).resolve().name,
        "data": str(args.data),
        "model_dir": str(args.model),
        "seed": seed,
        "roi": model_roi or roi_path is not None,
        "roi_model": model_roi,
        "roi_eval": str(roi_path) if roi_path is not None else None,
        "input": [manifest.get("input", {}).get("height"), manifest.get("input", {}).get("width")],
        "training_steps": training.get("steps"),
        "training_images": training.get("images"),
        "n_images": n,
        "every": int(getattr(args, "every", 1)),
    }


def _clean(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def write_outputs(
    out: Path, metrics: dict[str, Any], details: dict[str, Any], result: RunResult
) -> None:
    """Write metrics.json, details.json and records.csv into ``out`` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(_clean(metrics), indent=2) + "\n")
    (out / "details.json").write_text(json.dumps(_clean(details), indent=2) + "\n")
    with (out / "records.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "defect", "label", "score", "area_ratio", "map_max"])
        for r in result.records:
            w.writerow(
                [
                    r.path,
                    r.defect,
                    int(r.label),
                    f"{r.score:.6g}",
                    f"{r.area_ratio:.6g}",
                    f"{r.map_max:.6g}",
                ]
            )


def read_report(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, details) of a report folder written by ``xrbridge eval``."""
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        details = json.loads((folder / "details.json").read_text())
    except FileNotFoundError as exc:
        raise InputError(
            f"{folder} is not a report folder: expected metrics.json and details.json "
            f"from `xrbridge eval`, missing {Path(exc.filename).name}"
        ) from exc
    except ValueError as exc:
        raise InputError(f"{folder}: metrics.json/details.json is not valid JSON ({exc})") from exc
    if "run" not in details:
        raise InputError(f"{folder}/details.json lacks 'run': not written by `xrbridge eval`")
    return metrics, details
