"""Compare evaluation runs: the paper's Tables 4-7, significance and ROI error changes.

A *run* is one report folder of ``xrbridge eval``. Runs are grouped by
category (view) and *variant* = label (model name) + ROI flag ("†" when an
ROI was applied, as in the paper). Per variant and category:

- mean ± std over seeds (sample std, ddof = 1; 0 with one seed) of the
  image-level (Tables 4/5) and pixel-level (Tables 6/7) metrics;
- paired t-tests between every two variants per category and metric, pairing
  runs by seed (scipy.stats.ttest_rel), with Benjamini-Hochberg FDR over all
  tests (scipy.stats.false_discovery_control);
- for a label evaluated both with and without ROI: the change of image-level
  FP and FN (summed over seeds) and of FN per size class (section 7.1).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xrbridge.errors import InputError
from xrbridge.eval.metrics import SIZE_CLASSES
from xrbridge.eval.write import read_report

IMAGE_COLS = (
    ("image_auroc", "AUROC"),
    ("image_aupr", "AU-PR"),
    ("image_precision", "Precision"),
    ("image_recall", "Recall"),
    ("image_f1", "F1"),
    ("fp_share_image", "FP_share"),
)
PIXEL_COLS = (
    ("pixel_auroc", "AUROC"),
    ("pixel_aupr", "AU-PR"),
    ("pixel_aupro", "AUPRO"),
    ("pixel_iou", "IoU"),
    ("pixel_precision", "Precision"),
    ("pixel_recall", "Recall"),
    ("pixel_f1", "F1"),
    ("fp_share_pixel", "FP_share"),
)
TEST_METRICS = ("image_auroc", "image_aupr", "image_f1", "pixel_auroc", "pixel_aupro", "pixel_iou")


@dataclass(frozen=True, slots=True)
class Run:
    folder: Path
    category: str
    label: str
    roi: bool
    seed: int
    metrics: dict[str, Any]
    details: dict[str, Any]

    @property
    def variant(self) -> str:
        return self.label + ("†" if self.roi else "")


def find_reports(paths: list[Path]) -> list[Path]:
    """Report folders among ``paths`` and below them (folders holding metrics.json)."""
    found: list[Path] = []
    for p in paths:
        if (p / "metrics.json").is_file():
            found.append(p)
        elif p.is_dir():
            found += sorted(m.parent for m in p.rglob("metrics.json"))
        else:
            raise InputError(f"{p} is not a folder: expected report folders of `xrbridge eval`")
    if not found:
        raise InputError(f"no report folders (with metrics.json) in {', '.join(map(str, paths))}")
    return found


def load_runs(paths: list[Path]) -> list[Run]:
    runs = []
    for i, folder in enumerate(find_reports(paths)):
        metrics, details = read_report(folder)
        r = details["run"]
        seed = r.get("seed")
        runs.append(
            Run(
                folder,
                str(r["category"]),
                str(r["label"]),
                bool(r["roi"]),
                int(seed) if seed is not None else i,
                metrics,
                details,
            )
        )
    keys = [(r.category, r.variant, r.seed) for r in runs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise InputError(f"several runs for the same (category, variant, seed): {sorted(dup)[:3]}")
    return runs


def _vals(runs: list[Run], key: str) -> np.ndarray:
    return np.array(
        [r.metrics[key] if r.metrics.get(key) is not None else np.nan for r in runs], float
    )


def mean_std(x: np.ndarray) -> tuple[float, float]:
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0


def table(runs: list[Run], cols: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    """Rows (category, variant, n_seeds, metric_mean, metric_std ...) in percent."""
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for r in runs:
        groups[(r.category, r.variant)].append(r)
    rows = []
    for (cat, var), rs in sorted(groups.items()):
        row: dict[str, Any] = {
            "category": cat,
            "variant": var,
            "seeds": len(rs),
            "images": "/".join(sorted({str(r.metrics["n_images"]) for r in rs})),
        }
        for key, _ in cols:
            m, s = mean_std(_vals(rs, key) * 100)
            row[f"{key}_mean"], row[f"{key}_std"] = m, s
        rows.append(row)
    return rows


def paired_tests(runs: list[Run], metrics: tuple[str, ...] = TEST_METRICS) -> list[dict[str, Any]]:
    """Paired t-tests (by seed) between variants per category and metric, BH-adjusted."""
    from scipy import stats

    by: dict[tuple[str, str], dict[int, Run]] = defaultdict(dict)
    for r in runs:
        by[(r.category, r.variant)][r.seed] = r
    rows = []
    for cat in sorted({r.category for r in runs}):
        variants = sorted(v for c, v in by if c == cat)
        for a, b in itertools.combinations(variants, 2):
            seeds = sorted(set(by[(cat, a)]) & set(by[(cat, b)]))
            for key in metrics:
                xa = _vals([by[(cat, a)][s] for s in seeds], key)
                xb = _vals([by[(cat, b)][s] for s in seeds], key)
                ok = ~(np.isnan(xa) | np.isnan(xb))
                xa, xb = xa[ok], xb[ok]
                t = p = math.nan
                if xa.size >= 2 and np.any(xa - xb != 0) and np.std(xa - xb) > 0:
                    res = stats.ttest_rel(xa, xb)
                    t, p = float(res.statistic), float(res.pvalue)
                rows.append(
                    {
                        "category": cat,
                        "metric": key,
                        "a": a,
                        "b": b,
                        "n": int(xa.size),
                        "mean_diff": float(np.mean(xa - xb)) * 100 if xa.size else math.nan,
                        "t": t,
                        "p": p,
                    }
                )
    ps = np.array([r["p"] for r in rows], float)
    valid = ~np.isnan(ps)
    adj = np.full(ps.shape, math.nan)
    if valid.any():
        adj[valid] = stats.false_discovery_control(ps[valid], method="bh")
    for row, q in zip(rows, adj, strict=True):
        row["p_bh"] = float(q)
        row["significant"] = bool(q < 0.05) if not math.isnan(q) else False
    return rows


def _errors(rs: list[Run]) -> dict[str, float]:
    out = {"fp": 0.0, "fn": 0.0} | dict.fromkeys(SIZE_CLASSES, 0.0)
    for r in rs:
        c = r.details["image_counts"]
        out["fp"] += c["fp"]
        out["fn"] += c["fn"]
        for k in SIZE_CLASSES:
            out[k] += r.metrics["fn_by_size"][k]
    return out


def _pct(before: float, after: float) -> float:
    return (after - before) / before * 100 if before > 0 else math.nan


def roi_changes(runs: list[Run]) -> list[dict[str, Any]]:
    """Per label and category with runs both without and with ROI: error changes (section 7.1).

    Counts are summed over the seeds present in both conditions; a last row per
    category ("all") sums over the labels.
    """
    by: dict[tuple[str, str, bool], list[Run]] = defaultdict(list)
    for r in runs:
        by[(r.category, r.label, r.roi)].append(r)
    rows = []
    for cat in sorted({r.category for r in runs}):
        tot_b: dict[str, float] = defaultdict(float)
        tot_a: dict[str, float] = defaultdict(float)
        labels = sorted({lab for c, lab, _ in by if c == cat})
        n_pairs = 0
        for lab in labels:
            off, on = by.get((cat, lab, False), []), by.get((cat, lab, True), [])
            seeds = {r.seed for r in off} & {r.seed for r in on}
            if not seeds:
                continue
            n_pairs += 1
            eb = _errors([r for r in off if r.seed in seeds])
            ea = _errors([r for r in on if r.seed in seeds])
            for k in eb:
                tot_b[k] += eb[k]
                tot_a[k] += ea[k]
            rows.append(_change_row(cat, lab, len(seeds), eb, ea))
        if n_pairs > 1:
            rows.append(_change_row(cat, "all", n_pairs, dict(tot_b), dict(tot_a)))
    return rows


def _change_row(
    cat: str, label: str, n: int, eb: dict[str, float], ea: dict[str, float]
) -> dict[str, Any]:
    row: dict[str, Any] = {"category": cat, "label": label, "seeds": n}
    for k in ("fp", "fn", *SIZE_CLASSES):
        row[f"{k}_off"], row[f"{k}_on"], row[f"{k}_change_pct"] = eb[k], ea[k], _pct(eb[k], ea[k])
    row["errors_change_pct"] = _pct(eb["fp"] + eb["fn"], ea["fp"] + ea["fn"])
    for k in SIZE_CLASSES:
        row[f"{k}_share_off"] = eb[k] / eb["fn"] * 100 if eb["fn"] else math.nan
        row[f"{k}_share_on"] = ea[k] / ea["fn"] * 100 if ea["fn"] else math.nan
    return row
