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
from sklearn.metrics import roc_auc_score

DEFECTS = ("missing", "misalignment", "bifurcation", "narrowing", "hole")


def link_set(src: Path, typ: str, dst: Path, name: str, prefix: str) -> int:
    """Link ``src``'s ``typ`` images with their masks; only images with exactly one
    defect (a rendered car can have several in a view, and the mask holds them all)."""
    n = 0
    (dst / "test" / name).mkdir(parents=True, exist_ok=True)
    (dst / "ground_truth" / name).mkdir(parents=True, exist_ok=True)
    labels = json.loads((src / "labels.json").read_text())
    labels = labels.get("images", labels)
    for p in sorted((src / "test" / typ).glob("*.png")):
        if len(labels.get(p.stem, {}).get("defects", [None])) != 1:
            continue
        stem = f"{prefix}{p.stem}"
        os.symlink(p.resolve(), dst / "test" / name / f"{stem}.png")
        os.symlink(
            (src / "ground_truth" / typ / f"{p.stem}_mask.png").resolve(),
            dst / "ground_truth" / name / f"{stem}_mask.png",
        )
        n += 1
    return n


def new_category(cat: Path, good: Path, roi_from: Path) -> None:
    """``cat`` afresh, its test/good linked to ``good``'s and ``roi_from``'s ROI
    copied (with its time stamp, so ``run_eval`` can tell an unchanged input)."""
    shutil.rmtree(cat, ignore_errors=True)
    (cat / "test" / "good").mkdir(parents=True)
    for p in sorted((good / "test" / "good").glob("*.png")):
        os.symlink(p.resolve(), cat / "test" / "good" / p.name)
    if (roi_from / "roi.png").is_file():
        shutil.copy2(roi_from / "roi.png", cat / "roi.png")


def run_eval(model: Path, cat: Path, ev: Path) -> list[dict[str, str]]:
    """``xrbridge eval`` of ``model`` on ``cat`` into ``ev``; its records. Reused only
    for the very same inputs (a re-drawn synth set keeps its file names): every
    linked file's size and time stamp, and the model's."""
    stamp = (
        "\n".join(
            f"{p.relative_to(cat)} {p.stat().st_size} {p.stat().st_mtime_ns}"
            for p in sorted(cat.rglob("*.png"))
        )
        + "\n"
        + "\n".join(
            f"{p.name} {p.stat().st_size} {p.stat().st_mtime_ns}"
            for p in sorted(model.glob("*"))
            if p.is_file()
        )
    )
    if (
        not (ev / "records.csv").is_file()
        or ((ev / "inputs.txt").read_text() if (ev / "inputs.txt").is_file() else "") != stamp
    ):
        shutil.rmtree(ev, ignore_errors=True)
        cmd = [sys.executable, "-m", "xrbridge", "eval", "--model", str(model), "--data"]
        cmd += [str(cat), "--out", str(ev), "--no-report", "--no-progress", "--threads", "1"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        (ev / "inputs.txt").write_text(stamp)
    with (ev / "records.csv").open() as f:
        return list(csv.DictReader(f))


def build(args: argparse.Namespace, cat: Path) -> dict[str, int]:
    new_category(cat, args.good or args.rendered[0], args.rendered[0])
    counts = {}
    for typ in DEFECTS:
        n = 0
        for k, r in enumerate(args.rendered):
            n += link_set(r, typ, cat, f"r_{typ}", f"r{k}_")
        counts[f"r_{typ}"] = n
        counts[f"s_{typ}"] = link_set(args.synth, typ, cat, f"s_{typ}", "s_")
    return counts


def f3(x: object) -> str:
    return "-" if x is None else f"{float(x):+.3f}" if isinstance(x, Diff) else f"{float(x):.3f}"


class Diff(float):
    pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--view", required=True)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--rendered", required=True, type=Path, nargs="+")
    ap.add_argument("--synth", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--work", type=Path, default=Path("/tmp/xrbridge-synth-compare"))
    ap.add_argument("--label", default="patchcore")
    ap.add_argument(
        "--good",
        type=Path,
        default=None,
        help="category whose test/good are the negatives (default: the first --rendered)",
    )
    args = ap.parse_args()
    cat = args.work / args.view
    counts = build(args, cat)
    ev = args.work / f"eval_{args.view}_{args.label}"
    recs = run_eval(args.model, cat, ev)
    metrics = json.loads((ev / "metrics.json").read_text())
    details = json.loads((ev / "details.json").read_text())
    rows = {r["defect"]: r for r in details.get("per_defect", [])}
    thr = float(metrics["threshold_image"])
    good = [r for r in recs if r["defect"] == "good"]
    bad = [r for r in recs if r["defect"] != "good"]
    ratios = np.array([float(r["area_ratio"]) for r in bad])
    b1, b2 = np.quantile(ratios, [1 / 3, 2 / 3])
    # operating point for detection rates: 5 % of the good images flagged, on the map
    # maximum (the image score saturates at 1.0 on some views, see the report)
    op = float(np.quantile([float(r["map_max"]) for r in good], 0.95))

    def size(a: float) -> str:
        return "small" if a < b1 else ("medium" if a < b2 else "large")

    def auc(sel: str, key: str) -> float | None:
        pos = [float(r[key]) for r in bad if r["defect"] == sel]
        neg = [float(r[key]) for r in good]
        if not pos:
            return None
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        return float(roc_auc_score(y, np.r_[pos, neg]))

    def mw(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
        """AUROC of each row of ``pos`` (B, n) against each row of ``neg`` (B, m)."""
        gt = (pos[:, :, None] > neg[:, None, :]).mean((1, 2))
        eq = (pos[:, :, None] == neg[:, None, :]).mean((1, 2))
        return gt + 0.5 * eq

    rng = np.random.default_rng(0)

    def diff_ci(typ: str, key: str, n_boot: int = 2000) -> list[float] | None:
        """90 % bootstrap interval of synth - rendered AUROC (images resampled in all
        three sets: rendered, synth, good): how far the set sizes let the diff move."""
        vals = {
            k: np.array([float(r[key]) for r in recs if r["defect"] == k])
            for k in (f"r_{typ}", f"s_{typ}", "good")
        }
        if any(len(v) == 0 for v in vals.values()):
            return None

        def draw(v: np.ndarray) -> np.ndarray:
            return v[rng.integers(0, len(v), (n_boot, len(v)))]

        neg = draw(vals["good"])
        d = mw(draw(vals[f"s_{typ}"]), neg) - mw(draw(vals[f"r_{typ}"]), neg)
        return [float(np.quantile(d, 0.05)), float(np.quantile(d, 0.95))]

    def run_of(rec: dict[str, str]) -> int:
        return int(Path(rec["path"]).name.split("_", 1)[0][1:])

    def diff_ci_runs(typ: str, key: str, n_boot: int = 2000) -> list[float] | None:
        """90 % interval of synth - rendered AUROC with the rendered runs resampled
        whole (then their images): each run has its own cars, light and camera, so
        its defects are not independent draws. The renderer's reproducibility."""
        by_run: dict[int, list[float]] = {}
        for rec in bad:
            if rec["defect"] == f"r_{typ}":
                by_run.setdefault(run_of(rec), []).append(float(rec[key]))
        syn = np.array([float(r[key]) for r in recs if r["defect"] == f"s_{typ}"])
        good_v = np.array([float(r[key]) for r in good])
        runs = [np.asarray(v) for v in by_run.values()]
        if len(runs) < 2 or len(syn) == 0:
            return None
        d = np.empty(n_boot)
        for b in range(n_boot):
            pick = rng.integers(0, len(runs), len(runs))
            pos = np.concatenate(
                [runs[k][rng.integers(0, len(runs[k]), len(runs[k]))] for k in pick]
            )
            neg = good_v[rng.integers(0, len(good_v), len(good_v))]
            s_b = syn[rng.integers(0, len(syn), len(syn))]
            d[b] = mw(s_b[None], neg[None])[0] - mw(pos[None], neg[None])[0]
        return [float(np.quantile(d, 0.05)), float(np.quantile(d, 0.95))]

    def per_run(typ: str) -> list[float | None]:
        """Map-max AUROC of each rendered run alone: the renderer against itself."""
        neg = np.array([float(r["map_max"]) for r in good])[None, :]
        out: list[float | None] = []
        for k in range(len(args.rendered)):
            pos = [
                float(r["map_max"])
                for r in bad
                if r["defect"] == f"r_{typ}" and Path(r["path"]).name.startswith(f"r{k}_")
            ]
            out.append(float(mw(np.array(pos)[None, :], neg)[0]) if pos else None)
        return out

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
                "mapmax_auroc_rendered": auc(f"r_{typ}", "map_max"),
                "mapmax_auroc_synth": auc(f"s_{typ}", "map_max"),
                "pixel_auroc_rendered": r.get("pixel_auroc"),
                "pixel_auroc_synth": s.get("pixel_auroc"),
                "image_diff_ci90": diff_ci(typ, "score"),
                "mapmax_diff_ci90": diff_ci(typ, "map_max"),
                "image_diff_ci90_runs": diff_ci_runs(typ, "score"),
                "mapmax_diff_ci90_runs": diff_ci_runs(typ, "map_max"),
                "mapmax_auroc_rendered_runs": per_run(typ),
            }
        )
    det: dict[str, dict[str, list[int]]] = {}
    for rec in bad:
        src, typ = rec["defect"].split("_", 1)
        key = "rendered" if src == "r" else "synth"
        hit = int(float(rec["map_max"]) > op)
        sz = size(float(rec["area_ratio"]))
        for k in (f"{typ}/{sz}", f"all/{sz}"):
            cell = det.setdefault(k, {}).setdefault(key, [0, 0])
            cell[0] += hit
            cell[1] += 1
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "view": args.view,
        "model": args.label,
        "threshold_image": thr,
        "n_good": len(good),
        "good_image_score_at_1": sum(float(r["score"]) >= 0.999 for r in good),
        "detection_threshold_map_max": op,
        "size_bounds": [float(b1), float(b2)],
        "per_type": table,
        "detection_by_size": det,
    }
    (args.out / "compare.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"# synth vs rendered defects: {args.view}, {args.label}",
        "",
        f"Test/good images: {len(good)} ({result['good_image_score_at_1']} of them with "
        "image score 1.0, the top of the calibrated range). Rendered: the renderer's "
        "images with exactly one defect in the view. Produced by "
        "`bench/synth_compare.py` (`reports/synth/run.sh`).",
        "",
        "AUROC of each type's images against all test/good images: image score "
        "(`pred_score`, as `xrbridge eval`), map maximum, pixel level (`eval`'s "
        "per-defect rows); diff = synth - rendered.",
        "",
        "| type | n rendered | n synth | image rendered | image synth | diff "
        "| map-max rendered | map-max synth | diff | pixel rendered | pixel synth | diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in table:
        cells = []
        for m in ("image_auroc", "mapmax_auroc", "pixel_auroc"):
            a, b = t[f"{m}_rendered"], t[f"{m}_synth"]
            d = None if a is None or b is None else Diff(b - a)
            cells += [f3(a), f3(b), f3(d)]
        lines.append(
            f"| {t['type']} | {t['n_rendered']} | {t['n_synth']} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Set sizes: 90 % bootstrap intervals of the map-max and image diff, with images "
        "resampled, and with the rendered runs resampled whole (each run has its own "
        "cars, light and camera noise), and the map-max AUROC of each rendered run alone "
        "(the renderer against itself: " + ", ".join(str(r) for r in args.rendered) + "):",
        "",
        "| type | map-max diff 90 %, images | runs | image diff 90 %, images | runs "
        "| map-max per rendered run |",
        "|---|---|---|---|---|---|",
    ]
    for t in table:
        ci = [
            "-" if c is None else f"{c[0]:+.3f} .. {c[1]:+.3f}"
            for c in (
                t["mapmax_diff_ci90"],
                t["mapmax_diff_ci90_runs"],
                t["image_diff_ci90"],
                t["image_diff_ci90_runs"],
            )
        ]
        runs = " / ".join(f3(x) for x in t["mapmax_auroc_rendered_runs"])
        lines.append(f"| {t['type']} | " + " | ".join(ci) + f" | {runs} |")
    lines += [
        "",
        "Detection rate per size class at 5 % false positives on test/good (map "
        f"maximum > {op:.3f}); size classes: area-ratio tertiles over both sets "
        f"({b1:.5f} / {b2:.5f}, eq. 14-15 of the paper):",
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
