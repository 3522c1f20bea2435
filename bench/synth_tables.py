"""docs/synth.md's tables from reports/synth/: synth - rendered for every synth set
run.sh makes; per view and model, AUROC per type (rendered vs synth) and detection
per size class; the realism check (and, with ``--before``, the same check on an
earlier synth set beside it).

    python bench/synth_tables.py --reports reports/synth [--before DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFECTS = ("missing", "misalignment", "bifurcation", "narrowing", "hole")


def f3(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def pair(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return f"{f3(a)} / {f3(b)}"
    return f"{a:.3f} / {b:.3f} ({b - a:+.3f})"


def compare_tables(c: dict) -> list[str]:
    out = [
        f"{c['n_good']} good test images ({c['good_image_score_at_1']} with image score 1.0).",
        "",
        "| type | n rendered / synth | image AUROC rendered / synth (diff) "
        "| map-max AUROC rendered / synth (diff) | pixel AUROC rendered / synth (diff) |",
        "|---|---|---|---|---|",
    ]
    for t in c["per_type"]:
        out.append(
            f"| {t['type']} | {t['n_rendered']} / {t['n_synth']} | "
            + " | ".join(
                pair(t[f"{m}_rendered"], t[f"{m}_synth"])
                for m in ("image_auroc", "mapmax_auroc", "pixel_auroc")
            )
            + " |"
        )
    if all("mapmax_diff_ci90" in t for t in c["per_type"]):
        out += [
            "",
            "How far the set sizes let these move: 90 % bootstrap interval of the diff, "
            "images resampled in all three sets, and with the rendered runs resampled "
            "whole as well (each run has its own cars, light and camera), and the map-max "
            "AUROC of each rendered run alone (the renderer against itself):",
            "",
            "| type | image diff 90 % | runs resampled | map-max diff 90 % | runs resampled "
            "| map-max AUROC per rendered run |",
            "|---|---|---|---|---|---|",
        ]
        for t in c["per_type"]:
            ci = [
                "-" if v is None else f"{v[0]:+.3f} .. {v[1]:+.3f}"
                for v in (
                    t["image_diff_ci90"],
                    t.get("image_diff_ci90_runs"),
                    t["mapmax_diff_ci90"],
                    t.get("mapmax_diff_ci90_runs"),
                )
            ]
            runs = " / ".join(f3(x) for x in t["mapmax_auroc_rendered_runs"])
            out.append(f"| {t['type']} | " + " | ".join(ci) + f" | {runs} |")
    b1, b2 = c["size_bounds"]
    out += [
        "",
        f"Detection at 5 % false positives on the good images (map maximum > "
        f"{c['detection_threshold_map_max']:.3f}); size classes: area-ratio tertiles "
        f"over both sets ({b1:.4f} / {b2:.4f}):",
        "",
        "| type | small rendered / synth | medium rendered / synth | large rendered / synth |",
        "|---|---|---|---|",
    ]
    det = c["detection_by_size"]
    for typ in (*DEFECTS, "all"):
        cells = []
        for sz in ("small", "medium", "large"):
            cell = det.get(f"{typ}/{sz}", {})
            parts = []
            for src in ("rendered", "synth"):
                hit, n = cell.get(src, [0, 0])
                parts.append(f"{hit}/{n}" if n else "-")
            cells.append(" / ".join(parts))
        out.append(f"| {typ} | " + " | ".join(cells) + " |")
    return out


def diff_cell(t: dict) -> str:
    """synth - rendered in AUROC points: map maximum / image / pixel."""
    out = []
    for m in ("mapmax_auroc", "image_auroc", "pixel_auroc"):
        a, b = t[f"{m}_rendered"], t[f"{m}_synth"]
        out.append("-" if a is None or b is None else f"{100 * (b - a):+.1f}")
    return " / ".join(out)


#: the synth sets run.sh compares, by report prefix
SETS = {
    "": "B's cars, seed 1, 80 a type",
    "replicate_": "B's cars, seed 2, 240 a type",
    "same_cars_": "the rendered runs' own cars (D-K), 80 a type",
}


def summary_table(reports: Path, views: tuple[str, ...]) -> list[str]:
    """One row per view, model and type; a column per synth set that is there."""
    sets = [k for k in SETS if (reports / f"{k}{views[0]}_patchcore" / "compare.json").is_file()]
    head = "| view | model | type | " + " | ".join(SETS[k] for k in sets) + " |"
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for v in views:
        for model in ("patchcore", "simplenet"):
            per = {}
            for k in sets:
                p = reports / f"{k}{v}_{model}" / "compare.json"
                if p.is_file():
                    per[k] = {t["type"]: t for t in json.loads(p.read_text())["per_type"]}
            for typ in DEFECTS:
                cells = [diff_cell(per[k][typ]) if k in per else "-" for k in sets]
                out.append(f"| {v} | {model} | {typ} | " + " | ".join(cells) + " |")
    return out


def realism_table(views: dict[str, dict], before: dict[str, dict] | None) -> list[str]:
    def lg(d: dict | None) -> str:
        return "-" if not d else f"{d['logreg']:.3f} / {d['boosting']:.3f}"

    cols = ["synth_vs_rendered", "mask_free"]
    col_names = {"synth_vs_rendered": "true masks", "mask_free": "centre square"}
    head = "| view | type | n per class | "
    if before:
        head += " | ".join(f"{col_names[c]}: before | {col_names[c]}: after" for c in cols)
    else:
        head += " | ".join(col_names[c] for c in cols)
    head += " | placement only | power check |"
    out = [
        "LR / GB: held-out AUROC of logistic regression / gradient boosting (0.5: cannot "
        "be told apart).",
        "",
        head,
        "|" + "---|" * (head.count("|") - 1),
    ]
    for view, r in views.items():
        for typ in (*DEFECTS, "all"):
            row = r[typ]
            n = row.get("n_per_class", row.get("n"))
            cells = []
            for c in cols:
                if before:
                    cells.append(lg(before[view][typ].get(c)))
                cells.append(lg(row.get(c)))
            cells += [lg(row.get("placement")), lg(row.get("power_defect_vs_good"))]
            out.append(f"| {view} | {typ} | {n} | " + " | ".join(cells) + " |")
    if all("same_places" in r["all"] for r in views.values()):
        out += [
            "",
            "The same check on crops from the same places only (rendered and synth defects "
            "paired one to one by centroid, within 4 % of the image size):",
            "",
        ]
        hdr = "| view | type | pairs | true masks | centre square |"
        if before:
            hdr = (
                "| view | type | pairs before / after | true masks: before | true masks: after "
                "| centre square: before | centre square: after |"
            )
        out += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
        for view, r in views.items():
            for typ in (*DEFECTS, "all"):
                a = r[typ]["same_places"]
                b = (before[view][typ].get("same_places") or {}) if before else None
                if b is not None:
                    out.append(
                        f"| {view} | {typ} | {b.get('n_pairs', '-')} / {a['n_pairs']} | "
                        f"{lg(b.get('true_masks'))} | {lg(a['true_masks'])} | "
                        f"{lg(b.get('centre_square'))} | {lg(a['centre_square'])} |"
                    )
                else:
                    out.append(
                        f"| {view} | {typ} | {a['n_pairs']} | {lg(a['true_masks'])} | "
                        f"{lg(a['centre_square'])} |"
                    )
    groups = [v["all"].get("by_feature_group") for v in views.values()]
    if all(groups):
        out += ["", "Each feature group alone (all types, LR / GB):", ""]
        names = list(groups[0])
        hdr = "| feature group | " + " | ".join(
            f"{v} before | {v} after" if before else v for v in views
        )
        out += [hdr + " |", "|" + "---|" * (hdr.count("|"))]
        for name in names:
            cells = []
            for view, r in views.items():
                if before:
                    bg = before[view]["all"].get("by_feature_group", {}).get(name)
                    cells.append(
                        "-" if bg is None else f"{bg['logreg']:.3f} / {bg['boosting']:.3f}"
                    )
                g = r["all"]["by_feature_group"][name]
                cells.append(f"{g['logreg']:.3f} / {g['boosting']:.3f}")
            out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=Path, default=Path("reports/synth"))
    ap.add_argument("--before", type=Path, default=None, help="realism_before_<view>.json here")
    args = ap.parse_args()
    views = ("lower_center", "lower_back")
    print("\n### synth - rendered, AUROC points (map maximum / image / pixel)\n")
    print("\n".join(summary_table(args.reports, views)))
    for model in ("patchcore", "simplenet"):
        for v in views:
            p = args.reports / f"{v}_{model}" / "compare.json"
            if p.is_file():
                print(f"\n### {v}, {model}\n")
                print("\n".join(compare_tables(json.loads(p.read_text()))))
    real = {
        v: json.loads((args.reports / f"realism_{v}.json").read_text())
        for v in views
        if (args.reports / f"realism_{v}.json").is_file()
    }
    before = None
    if args.before is not None:
        before = {
            v: json.loads((args.before / f"realism_before_{v}.json").read_text()) for v in real
        }
    print("\n### realism\n")
    print("\n".join(realism_table(real, before)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
