"""Markdown and CSV output of :mod:`xrbridge.eval.compare`."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from xrbridge.eval.compare import IMAGE_COLS, PIXEL_COLS, Run, paired_tests, roi_changes, table
from xrbridge.eval.metrics import SIZE_CLASSES


def _pm(m: float, s: float) -> str:
    return "n/a" if math.isnan(m) else f"{m:.1f} ± {s:.1f}"


def _num(x: float, fmt: str = ".1f") -> str:
    return "n/a" if isinstance(x, float) and math.isnan(x) else format(x, fmt)


def _md_table(rows: list[dict[str, Any]], cols: tuple[tuple[str, str], ...]) -> list[str]:
    head = "| category | model | seeds | images | " + " | ".join(n for _, n in cols) + " |"
    out = [head, "|" + "---|" * (4 + len(cols))]
    for r in rows:
        if r["seeds"] > 1:
            cells = [_pm(r[f"{k}_mean"], r[f"{k}_std"]) for k, _ in cols]
        else:  # one seed: no spread to show
            cells = [_num(r[f"{k}_mean"]) for k, _ in cols]
        out.append(
            f"| {r['category']} | {r['variant']} | {r['seeds']} | {r['images']} | "
            + " | ".join(cells)
            + " |"
        )
    return out


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        if not rows:
            return
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def write(out: Path, runs: list[Run]) -> dict[str, Any]:
    """Write compare.md and the CSV tables into ``out``; returns a JSON-able summary."""
    out.mkdir(parents=True, exist_ok=True)
    img, pix = table(runs, IMAGE_COLS), table(runs, PIXEL_COLS)
    tests, roi = paired_tests(runs), roi_changes(runs)
    _write_csv(out / "image.csv", img)
    _write_csv(out / "pixel.csv", pix)
    _write_csv(out / "tests.csv", tests)
    _write_csv(out / "roi_errors.csv", roi)
    lines = [
        "# Model comparison",
        "",
        f"{len(runs)} runs: "
        + ", ".join(
            f"{c} ({len({r.variant for r in runs if r.category == c})} variants)"
            for c in sorted({r.category for r in runs})
        )
        + ". Values in percent, mean ± std (ddof 1) over seeds; † = ROI masking applied.",
        "",
        "## Image level (as the paper's Tables 4 and 5)",
        "",
        *_md_table(img, IMAGE_COLS),
        "",
        "## Pixel level (as the paper's Tables 6 and 7)",
        "",
        "AUPRO integrated to FPR 0.3 and normalised; IoU, precision, recall, F1 and FP_share at the "
        "IoU-maximising threshold of each run.",
        "",
        *_md_table(pix, PIXEL_COLS),
        "",
        "## Paired t-tests between models (pairs = same seed), Benjamini-Hochberg FDR",
        "",
        "mean diff = a - b in percentage points; p_BH < 0.05 marked *. n/a: fewer than two pairs "
        "or identical values.",
        "",
        "| category | metric | a | b | n | mean diff | t | p | p_BH |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {t['category']} | {t['metric']} | {t['a']} | {t['b']} | {t['n']} | "
            f"{_num(t['mean_diff'], '+.2f')} | {_num(t['t'], '.2f')} | {_num(t['p'], '.3g')} | "
            f"{_num(t['p_bh'], '.3g')}{' *' if t['significant'] else ''} |"
            for t in tests
        ),
        "",
        "## Errors with and without ROI masking (image level, summed over seeds)",
        "",
    ]
    if roi:
        lines += [
            "| category | model | seeds | FP off→on | FN off→on | errors Δ% | "
            + " | ".join(f"FN {k} off→on (Δ%)" for k in SIZE_CLASSES)
            + " | "
            + " | ".join(f"{k} share of FN off→on" for k in SIZE_CLASSES)
            + " |",
            "|" + "---|" * 12,
        ]
        for r in roi:
            sizes = " | ".join(
                f"{r[f'{k}_off']:.0f}→{r[f'{k}_on']:.0f} ({_num(r[f'{k}_change_pct'], '+.1f')})"
                for k in SIZE_CLASSES
            )
            shares = " | ".join(
                f"{_num(r[f'{k}_share_off'])}→{_num(r[f'{k}_share_on'])}" for k in SIZE_CLASSES
            )
            lines.append(
                f"| {r['category']} | {r['label']} | {r['seeds']} | {r['fp_off']:.0f}→{r['fp_on']:.0f} "
                f"({_num(r['fp_change_pct'], '+.1f')}) | {r['fn_off']:.0f}→{r['fn_on']:.0f} "
                f"({_num(r['fn_change_pct'], '+.1f')}) | {_num(r['errors_change_pct'], '+.1f')} | "
                f"{sizes} | {shares} |"
            )
    else:
        lines.append(
            "No model was evaluated both with and without ROI (no category here has an ROI)."
        )
    lines.append("")
    (out / "compare.md").write_text("\n".join(lines))
    return {
        "runs": len(runs),
        "image": img,
        "pixel": pix,
        "tests": tests,
        "roi_errors": roi,
        "files": sorted(p.name for p in out.iterdir()),
    }
