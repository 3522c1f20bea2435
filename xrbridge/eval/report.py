"""``report.md`` and its PNG figures for one evaluation run.

Figures (matplotlib, Agg backend, small PNGs):
    roc.png     ROC at image level (exact) and pixel level (binned)
    pr.png      precision-recall at image and pixel level
    hist.png    image scores of good vs defective images, with the threshold
    grid.png    the worst and the best test images: image | ground truth | heatmap overlay
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from xrbridge.eval import metrics as M
from xrbridge.eval.dataset import read_image, read_mask
from xrbridge.eval.runner import ImageRecord, Predictor, RunResult, resize_map, roi_for

DPI = 80


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _curves(result: RunResult) -> dict[str, Any]:
    labels = np.array([r.label for r in result.records], bool)
    scores = np.array([r.score for r in result.records])
    fpr, tpr, _ = M.roc_curve(labels, scores)
    prec, rec, _ = M.pr_curve(labels, scores)
    pix = M.binned_curves(result.pixels.histograms())
    return {"img": (fpr, tpr, prec, rec), "pix": pix, "labels": labels, "scores": scores}


def plot_roc_pr(out: Path, result: RunResult, metrics: dict[str, Any]) -> None:
    plt = _plt()
    c = _curves(result)
    fpr, tpr, prec, rec = c["img"]
    pix = c["pix"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.6))
    ax[0].plot(fpr, tpr, label=f"image (AUROC {fmt(metrics['image_auroc'])})")
    ax[0].plot(pix["fpr"], pix["tpr"], label=f"pixel (AUROC {fmt(metrics['pixel_auroc'])})")
    ax[0].axvline(M.AUPRO_FPR_LIMIT, color="grey", lw=0.8, ls=":", label="AUPRO FPR limit")
    ax[0].set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax[1].plot(rec, prec, label=f"image (AU-PR {fmt(metrics['image_aupr'])})")
    ax[1].plot(pix["recall"], pix["precision"], label=f"pixel (AU-PR {fmt(metrics['pixel_aupr'])})")
    ax[1].set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    for a in ax:
        a.legend(fontsize=7, loc="lower right" if a is ax[0] else "lower left")
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "roc_pr.png", dpi=DPI)
    plt.close(fig)


def plot_hist(out: Path, result: RunResult, threshold: float) -> None:
    plt = _plt()
    labels = np.array([r.label for r in result.records], bool)
    scores = np.array([r.score for r in result.records])
    fig, ax = plt.subplots(figsize=(5, 3))
    bins = np.linspace(min(0.0, scores.min()), max(1.0, scores.max()), 41)
    ax.hist(
        scores[~labels], bins=bins, alpha=0.6, label=f"good ({np.sum(~labels)})", color="tab:green"
    )
    ax.hist(
        scores[labels], bins=bins, alpha=0.6, label=f"defective ({np.sum(labels)})", color="tab:red"
    )
    ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set(xlabel="image score (pred_score)", ylabel="images", title="image scores")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "hist.png", dpi=DPI)
    plt.close(fig)


def pick_samples(
    records: tuple[ImageRecord, ...], threshold: float, k: int
) -> list[tuple[str, ImageRecord]]:
    """The k worst (largest margin on the wrong side of the threshold) and k best defective images."""
    margin = [((r.score - threshold) * (1 if r.label else -1), i) for i, r in enumerate(records)]
    worst = [("worst", records[i]) for _, i in sorted(margin)[:k]]
    best_def = sorted(((-(r.score), i) for i, r in enumerate(records) if r.label))
    best = [("best", records[i]) for _, i in best_def[:k]]
    return worst + best


def _overlay(image: np.ndarray, amap: np.ndarray) -> np.ndarray:
    heat = cv2.applyColorMap((np.clip(amap, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(image, 0.5, heat, 0.5, 0)


ROW_H = 120  # px per grid row: keeps grid.png small (< 300 KB) for committed reports


def _thumb(img: np.ndarray, h: int = ROW_H) -> np.ndarray:
    w = max(1, round(img.shape[1] * h / img.shape[0]))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def plot_grid(
    out: Path, model: Predictor, picks: list[tuple[str, ImageRecord]], roi: np.ndarray | None
) -> None:
    """Re-run the model on the picked images; rows of image | ground truth | heatmap overlay."""
    if not picks:
        return
    rows = []
    for kind, rec in picks:
        image = read_image(Path(rec.path))
        shape = image.shape[:2]
        r = roi_for(roi, shape)
        inp = image if r is None else np.where(r[:, :, None], image, 0).astype(np.uint8)
        amap, _ = model.predict(inp)
        full = resize_map(amap, shape)
        if r is not None:
            full = np.where(r, full, 0.0)
        mask_path = (
            Path(rec.path).parents[2]
            / "ground_truth"
            / rec.defect
            / f"{Path(rec.path).stem}_mask.png"
        )
        gt = (
            read_mask(mask_path, shape)[0]
            if rec.label and mask_path.is_file()
            else np.zeros(shape, bool)
        )
        gt_bgr = cv2.cvtColor(gt.astype(np.uint8) * 255, cv2.COLOR_GRAY2BGR)
        cells = [_thumb(image), _thumb(gt_bgr), _thumb(_overlay(image, full))]
        sep = np.full((ROW_H, 4, 3), 255, np.uint8)
        body = np.hstack([cells[0], sep, cells[1], sep, cells[2]])
        text = f"{kind}: {rec.defect}/{Path(rec.path).name} score {rec.score:.3f}"
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.38, 1)
        width = max(body.shape[1], tw + 4)
        body = np.pad(body, ((0, 0), (0, width - body.shape[1]), (0, 0)), constant_values=255)
        label = np.full((16, width, 3), 255, np.uint8)
        cv2.putText(label, text, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.vstack([label, body]))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    cv2.imwrite(str(out / "grid.png"), np.vstack(rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def _f(v: Any, pct: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.1f}" if pct else f"{v:.4g}"


def markdown(metrics: dict[str, Any], details: dict[str, Any]) -> str:
    """report.md text."""
    run = details["run"]
    b = details["pixel_bounds"]
    s = details["sizes"]
    lines = [
        f"# Evaluation: {run['label']} on {run['category']}",
        "",
        f"Model `{run['model']}` ({run['backbone']}, input {run['input'][0]}x{run['input'][1]}, "
        f"seed {run['seed']}"
        + (f", {run['training_steps']} steps" if run.get("training_steps") is not None else "")
        + f") from `{run['model_dir']}`; "
        f"data `{run['data']}`: {details['n_good']} good and {details['n_defective']} defective "
        f"test images"
        + (
            f" (every {run['every']}th image of each test folder only)"
            if run.get("every", 1) > 1
            else ""
        )
        + f". ROI: model {'yes' if run['roi_model'] else 'no'}, evaluation "
        f"{run['roi_eval'] or 'none'}.",
        "",
        "| level | AUROC | AU-PR | AUPRO@0.3 | IoU | precision | recall | F1 | FP_share | threshold |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| image | {_f(metrics['image_auroc'], True)} | {_f(metrics['image_aupr'], True)} | - | - | "
        f"{_f(metrics['image_precision'], True)} | {_f(metrics['image_recall'], True)} | "
        f"{_f(metrics['image_f1'], True)} | {_f(metrics['fp_share_image'], True)} | "
        f"{metrics['threshold_image']:g} (manifest) |",
        f"| pixel | {_f(metrics['pixel_auroc'], True)} | {_f(metrics['pixel_aupr'], True)} | "
        f"{_f(metrics['pixel_aupro'], True)} | {_f(metrics['pixel_iou'], True)} | "
        f"{_f(metrics['pixel_precision'], True)} | {_f(metrics['pixel_recall'], True)} | "
        f"{_f(metrics['pixel_f1'], True)} | {_f(metrics['fp_share_pixel'], True)} | "
        f"{metrics['threshold_pixel']:.4g} (IoU-max) |",
        "",
        "Percent. Image level from `pred_score` (anomalous if score >= threshold); pixel level from "
        "the anomaly map resized (bilinear) to the mask's resolution. AUPRO is integrated up to a "
        f"false-positive rate of {details['aupro_fpr_limit']} and divided by it "
        f"({details['n_regions']} ground-truth regions, 8-connected). Pixel IoU, precision, recall, "
        "F1 and FP_share at the threshold that maximises IoU over the test set. "
        f"Pixel scores are binned ({b['n_bins']} bins over [{b['range'][0]:g}, {b['range'][1]:g})): "
        f"exact values lie within AUROC ± {_f(b['auroc_pm'])}, AUPRO ± {_f(b['aupro_pm'])}, "
        f"AU-PR in [{_f(b['aupr_interval'][0])}, {_f(b['aupr_interval'][1])}].",
        "",
        f"Latency (preprocess + inference, ms): p50 {_f(metrics['latency_ms']['p50'])}, "
        f"p90 {_f(metrics['latency_ms']['p90'])}, p99 {_f(metrics['latency_ms']['p99'])}.",
        "",
        "## Missed defective images by size (eqs. 14-15)",
        "",
        f"Tertile bounds of the area ratio: b1 = {_f(s['bounds'][0])}, b2 = {_f(s['bounds'][1])}.",
        "",
        "| size | defective images | missed (FN) |",
        "|---|---|---|",
        *(f"| {k} | {s['images'][k]} | {s['fn'][k]} |" for k in M.SIZE_CLASSES),
        "",
        "## Per defect type (against all good images)",
        "",
        "| defect | n | image AUROC | image recall | mean score | pixel AUROC | AUPRO@0.3 | pixel IoU |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['defect']} | {r['n']} | {_f(r['image_auroc'], True)} | {_f(r['image_recall'], True)} | "
            f"{r['mean_score']:.3f} | {_f(r.get('pixel_auroc'), True)} | {_f(r.get('pixel_aupro'), True)} | "
            f"{_f(r.get('pixel_iou'), True)} |"
            for r in details["per_defect"]
        ),
        "",
        "## Figures",
        "",
        "![ROC and PR](roc_pr.png)",
        "",
        "![score histograms](hist.png)",
        "",
        "Worst (furthest on the wrong side of the threshold) and best (highest-scored defective) "
        "test images: image, ground truth, heatmap overlay.",
        "",
        "![best and worst](grid.png)",
        "",
    ]
    notes = sorted(set(details["notes"]))
    if notes:
        lines += ["## Notes on the data", ""] + [f"- {n}" for n in notes[:20]]
        if len(notes) > 20:
            lines.append(f"- ... {len(notes) - 20} more in details.json")
        lines.append("")
    return "\n".join(lines)


def write_report(
    out: Path,
    model: Predictor,
    metrics: dict[str, Any],
    details: dict[str, Any],
    result: RunResult,
    roi: np.ndarray | None,
    grid: int = 3,
) -> None:
    """Write report.md and the figures into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plot_roc_pr(out, result, metrics)
    plot_hist(out, result, metrics["threshold_image"])
    plot_grid(out, model, pick_samples(result.records, metrics["threshold_image"], grid), roi)
    (out / "report.md").write_text(markdown(metrics, details))


def rewrite_markdown(folder: Path) -> None:
    """Re-render ``report.md`` of an existing report folder from its JSON files (figures unchanged)."""
    from xrbridge.eval.write import read_report

    metrics, details = read_report(folder)
    (folder / "report.md").write_text(markdown(metrics, details))
