"""Do models score `synth` defects like the renderer's own defects?

For one simulator view: builds a category whose test split holds the
rendered defects (``r_<type>``) and the `synth` defects (``s_<type>``) beside
the same test/good images, runs ``xrbridge eval`` once with a model trained on
the view's train/good, and writes per type image / pixel AUROC of both sets
and the detection rate per size class (tertiles of the mask area ratio over
both sets together, eq. 14-15 of the paper) at the model's image threshold.

    python bench/synth_compare.py --view lower_center --model MODEL_DIR \
        --rendered SIM_A/dataset/lower_center SIM_C/dataset/lower_center \
        --synth SYNTH_OUT --out reports/synth/lower_center_patchcore
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

DEFECTS = ("missing", "misalignment", "bifurcation", "narrowing", "hole")


def link_set(src: Path, typ: str, dst: Path, name: str, prefix: str) -> int:
    n = 0
    (dst / "test" / name).mkdir(parents=True, exist_ok=True)
    (dst / "ground_truth" / name).mkdir(parents=True, exist_ok=True)
    for p in sorted((src / "test" / typ).glob("*.png")):
        stem = f"{prefix}{p.stem}"
        os.symlink(p.resolve(), dst / "test" / name / f"{stem}.png")
        os.symlink(
            (src / "ground_truth" / typ / f"{p.stem}_mask.png").resolve(),
            dst / "ground_truth" / name / f"{stem}_mask.png",
        )
        n += 1
    return n


def build(args: argparse.Namespace, cat: Path) -> dict[str, int]:
    shutil.rmtree(cat, ignore_errors=True)
    (cat / "test" / "good").mkdir(parents=True)
    first = args.rendered[0]
    for p in sorted((first / "test" / "good").glob("*.png")):
        os.symlink(p.resolve(), cat / "test" / "good" / p.name)
    if (first / "roi.png").is_file():
        shutil.copyfile(first / "roi.png", cat / "roi.png")
    counts = {}
    for typ in DEFECTS:
        n = 0
        for k, r in enumerate(args.rendered):
            n += link_set(r, typ, cat, f"r_{typ}", f"r{k}_")
        counts[f"r_{typ}"] = n
        counts[f"s_{typ}"] = link_set(args.synth, typ, cat, f"s_{typ}", "s_")
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--view", required=True)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--rendered", required=True, type=Path, nargs="+")
    ap.add_argument("--synth", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--work", type=Path, default=Path("/tmp/xrbridge-synth-compare"))
    ap.add_argument("--label", default="patchcore")
    args = ap.parse_args()
    cat = args.work / args.view
    counts = build(args, cat)
    ev = args.work / f"eval_{args.view}_{args.label}"
    if not (ev / "records.csv").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "xrbridge",
                "eval",
                "--model",
                str(args.model),
                "--data",
                str(cat),
                "--out",
                str(ev),
                "--no-report",
                "--no-progress",
                "--threads",
                "1",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    metrics = json.loads((ev / "metrics.json").read_text())
    details = json.loads((ev / "details.json").read_text())
    rows = {r["defect"]: r for r in details.get("per_defect", [])}
    thr = float(metrics["threshold_image"])
    with (ev / "records.csv").open() as f:
        recs = list(csv.DictReader(f))
    bad = [r for r in recs if r["defect"] != "good"]
    ratios = np.array([float(r["area_ratio"]) for r in bad])
    b1, b2 = np.quantile(ratios, [1 / 3, 2 / 3])

    def size(a: float) -> str:
        return "small" if a < b1 else ("medium" if a < b2 else "large")

    table = []
    for typ in DEFECTS:
        r, s = rows.get(f"r_{typ}", {}), rows.get(f"s_{typ}", {})
        table.append(
            {
                "type": typ,
                "n_rendered": counts[f"r_{typ}"],
                "n_synth": counts[f"s_{typ}"],
                "image_auroc_rendered": r.get("image_auroc"),
                "image_auroc_synth": s.get("image_auroc"),
                "pixel_auroc_rendered": r.get("pixel_auroc"),
                "pixel_auroc_synth": s.get("pixel_auroc"),
            }
        )
    det: dict[str, dict[str, list[int]]] = {}
    for rec in bad:
        src, typ = rec["defect"].split("_", 1)
        key = "rendered" if src == "r" else "synth"
        cell = det.setdefault(f"{typ}/{size(float(rec['area_ratio']))}", {}).setdefault(key, [0, 0])
        cell[0] += int(float(rec["score"]) >= thr)
        cell[1] += 1
    for src in ("r", "s"):
        key = "rendered" if src == "r" else "synth"
        for sz in ("small", "medium", "large"):
            cell = det.setdefault(f"all/{sz}", {}).setdefault(key, [0, 0])
            for rec in bad:
                if rec["defect"].startswith(src + "_") and size(float(rec["area_ratio"])) == sz:
                    cell[0] += int(float(rec["score"]) >= thr)
                    cell[1] += 1
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "view": args.view,
        "model": args.label,
        "threshold_image": thr,
        "size_bounds": [float(b1), float(b2)],
        "n_good": sum(1 for r in recs if r["defect"] == "good"),
        "per_type": table,
        "detection_by_size": det,
    }
    (args.out / "compare.json").write_text(json.dumps(result, indent=1) + "\n")

    def f3(x: object) -> str:
        return "-" if x is None else f"{float(x):.3f}"  # type: ignore[arg-type]

    lines = [
        f"# synth vs rendered defects: {args.view}, {args.label}",
        "",
        f"Test/good images: {result['n_good']}; image threshold {thr:.3f} "
        f"(the model's calibrated one). Produced by `bench/synth_compare.py`.",
        "",
        "| type | n rendered | n synth | image AUROC rendered | image AUROC synth | diff "
        "| pixel AUROC rendered | pixel AUROC synth | diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in table:
        di = (
            None
            if t["image_auroc_synth"] is None or t["image_auroc_rendered"] is None
            else t["image_auroc_synth"] - t["image_auroc_rendered"]
        )
        dp = (
            None
            if t["pixel_auroc_synth"] is None or t["pixel_auroc_rendered"] is None
            else t["pixel_auroc_synth"] - t["pixel_auroc_rendered"]
        )
        lines.append(
            f"| {t['type']} | {t['n_rendered']} | {t['n_synth']} | "
            f"{f3(t['image_auroc_rendered'])} | {f3(t['image_auroc_synth'])} | {f3(di)} | "
            f"{f3(t['pixel_auroc_rendered'])} | {f3(t['pixel_auroc_synth'])} | {f3(dp)} |"
        )
    lines += [
        "",
        f"Detection rate at the image threshold per size class (area-ratio tertiles "
        f"over both sets: {b1:.5f} / {b2:.5f}):",
        "",
        "| type / size | rendered | synth |",
        "|---|---|---|",
    ]
    for key in sorted(det, key=lambda k: (k.startswith("all"), k)):
        cells = []
        for src in ("rendered", "synth"):
            hit, n = det[key].get(src, [0, 0])
            cells.append(f"{hit}/{n} = {hit / n:.2f}" if n else "-")
        lines.append(f"| {key} | {cells[0]} | {cells[1]} |")
    (args.out / "compare.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
