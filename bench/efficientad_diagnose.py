"""Why is EfficientAD at chance on a category? Decompose its maps on the test set.

Trains EfficientAD (the trainer the `train` verb uses, same options) on a category's
train/good, keeps the torch model, and on every test image computes

- the student-teacher map (``st``), the autoencoder-student map (``ae``) and their fusion,
  each normalised by its held-out quantiles and brought to the input grid;
- image AUROC of each map's maximum, over the whole image and with a border band of
  ``--border`` input pixels left out;
- pixel AUROC of each map (every ``--pixel-step``-th pixel of every test image), whole
  and interior;
- where the fused maximum lies: share of good / defective images whose maximum falls in
  the border band (the band is ``band_share`` of the image's pixels);
- rank correlation of the good images' fused maximum with their native size and mean
  intensity (does the score follow the image's look rather than defects?).

Prints one JSON object. Usage (repository root):

    OMP_NUM_THREADS=1 .venv/bin/python bench/efficientad_diagnose.py ../shared/data/magnetic_tile \
        --model efficientad-s --distil-steps 60 --steps 500 > reports/real/logs/effad_diag_mt.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from xrbridge.eval.metrics import auroc
from xrbridge.models.data import load_category, load_images, load_mask, read_roi
from xrbridge.models.efficientad import anomaly_map as amap
from xrbridge.models.framework import FitContext, TrainConfig, auto_size, get_trainer
from xrbridge.models.preprocess import resize_mask

#: This script's teacher names -> the trainer's ``--teacher``.
_TEACHER = {"distilled": "distilled", "target": "backbone"}


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--model", default="efficientad-s", choices=["efficientad-s", "efficientad-m"])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--distil-steps", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--border", type=int, default=24, help="input pixels of the border band")
    ap.add_argument("--pixel-step", type=int, default=4)
    ap.add_argument(
        "--teacher",
        choices=["distilled", "target"],
        default="distilled",
        help="distilled: a PDN teacher distilled from the target (--teacher distilled); "
        "target: no distillation, the target itself is the teacher (--teacher backbone, "
        "the trainer's default)",
    )
    ap.add_argument("--roi", default="none", help="ROI file, or none")
    args = ap.parse_args(argv)

    cat = load_category(args.data)
    size, rule = auto_size(list(cat.train))
    h, w = size
    config = TrainConfig(
        model=args.model, data=args.data, out=Path("/dev/null"), roi=args.roi, image_size=(h, w),
        steps=args.steps, seed=args.seed,
        options={"distil_steps": args.distil_steps, "teacher": _TEACHER[args.teacher]},
        progress=sys.stderr.isatty(),
    )  # fmt: skip
    trainer = get_trainer(args.model, config)
    t0 = time.perf_counter()
    roi = None if args.roi == "none" else resize_mask(read_roi(args.roi), h, w)
    x, _ = load_images(list(cat.train), h, w, roi)
    info = trainer.fit(FitContext(x, roi, config))
    model = trainer.raw_module().model.eval()
    t_fit = time.perf_counter() - t0
    del x

    names = ("st", "ae", "fused")
    band = np.zeros((h, w), bool)
    b = args.border
    band[:b], band[-b:], band[:, :b], band[:, -b:] = True, True, True, True
    sub = np.zeros((h, w), bool)
    sub[:: args.pixel_step, :: args.pixel_step] = True
    img_max = {n: [] for n in names}
    img_max_in = {n: [] for n in names}
    pix = {n: [] for n in names}
    pix_band: list[np.ndarray] = []
    pix_lab: list[np.ndarray] = []
    labels, max_in_band, native_area, mean_int, defects = [], [], [], [], []
    with torch.no_grad():
        for item in cat.test:
            xi, kept = load_images([item.path], h, w, roi)
            if not kept:
                continue
            m_st, m_ae = model.raw_maps(torch.from_numpy(xi))
            n_st = amap.quantile_normalise(m_st, model.q_st)
            n_ae = amap.quantile_normalise(m_ae, model.q_ae)
            maps = {
                "st": amap.to_input_grid(n_st, (h, w)),
                "ae": amap.to_input_grid(n_ae, (h, w)),
                "fused": amap.to_input_grid(amap.fuse(n_st, n_ae), (h, w)),
            }
            gt = load_mask(item, h, w)
            for n in names:
                m = F.avg_pool2d(maps[n], 5, 1, 2)[0, 0].numpy()  # light smoothing for the max
                img_max[n].append(float(m.max()))
                img_max_in[n].append(float(m[~band].max()))
                pix[n].append(maps[n][0, 0].numpy()[sub])
            pix_band.append(band[sub])
            pix_lab.append(gt[sub])
            fm = maps["fused"][0, 0].numpy()
            iy, ix = np.unravel_index(int(fm.argmax()), fm.shape)
            max_in_band.append(bool(band[iy, ix]))
            labels.append(int(item.defect != "good"))
            defects.append(item.defect)
            raw = cv2.imread(str(item.path), cv2.IMREAD_GRAYSCALE)
            native_area.append(float(raw.shape[0] * raw.shape[1]))
            mean_int.append(float(raw.mean()))
    y = np.array(labels)
    pl = np.concatenate(pix_lab)
    pb = np.concatenate(pix_band)
    out: dict[str, object] = {
        "data": str(args.data), "model": args.model, "teacher": args.teacher, "roi": args.roi, "input": [h, w], "size_rule": rule,
        "schedule": {"distil_steps": args.distil_steps, "steps": args.steps},
        "fit_seconds": round(t_fit, 1), "distillation": info.get("teacher"),
        "student_loss": [info.get("student_loss_first"), info.get("student_loss_last")],
        "map_quantiles": info.get("map_quantiles"), "n_good": int((y == 0).sum()),
        "n_defective": int((y == 1).sum()), "border_px": b, "band_share": round(float(band.mean()), 3),
    }  # fmt: skip
    for n in names:
        pv = np.concatenate(pix[n])
        out[n] = {
            "image_auroc": round(auroc(y, np.array(img_max[n])), 4),
            "image_auroc_interior": round(auroc(y, np.array(img_max_in[n])), 4),
            "pixel_auroc": round(auroc(pl, pv), 4),
            "pixel_auroc_interior": round(auroc(pl[~pb], pv[~pb]), 4),
        }
    mib = np.array(max_in_band)
    good_max = np.array(img_max["fused"])[y == 0]
    out["fused_max_in_band"] = {
        "good": round(float(mib[y == 0].mean()), 3),
        "defective": round(float(mib[y == 1].mean()), 3),
        "defect_pixels_in_band": round(float(pb[pl].mean()), 3) if pl.any() else None,
    }
    out["good_score_rank_corr"] = {
        "native_area": round(_rank_corr(good_max, np.array(native_area)[y == 0]), 3),
        "mean_intensity": round(_rank_corr(good_max, np.array(mean_int)[y == 0]), 3),
    }
    out["label_auroc_of_nuisance"] = {
        "native_area": round(auroc(y, np.array(native_area)), 4),
        "mean_intensity": round(auroc(y, np.array(mean_int)), 4),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
