"""How much a set's cars alone move the comparison: defect-free images, no defect drawn.

``bench/synth_compare.py`` ranks defect images against one run's test/good. The
cars, light and camera noise of another run shift every image's score, defect or
not. This scores each run's own good images (test/good, then train/good; up to ``--n``
a run, none of them seen in training) against the same negatives, with the same model: an AUROC of 0.5 means the run's cars alone look as
normal as the negatives; above, they give any defect drawn on them a head start.

    python bench/synth_base_control.py --view lower_center --model MODEL_DIR \\
        --good SIM_A/dataset/lower_center --runs B=SIM_B/dataset/lower_center \\
        D=SIM_D/dataset/lower_center ... --out reports/synth/base_lower_center_patchcore.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synth_compare import new_category, run_eval


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--view", required=True)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--good", required=True, type=Path, help="category whose test/good rank")
    ap.add_argument("--runs", required=True, nargs="+", help="NAME=category, good images of")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--work", type=Path, default=Path("/tmp/xrbridge-synth-base"))
    args = ap.parse_args()
    cat = args.work / args.view
    new_category(cat, args.good, args.good)
    runs = dict(r.split("=", 1) for r in args.runs)
    for name, src in runs.items():
        (cat / "test" / f"run_{name}").mkdir()
        (cat / "ground_truth" / f"run_{name}").mkdir(parents=True)
        goods = [
            p for sub in ("test", "train") for p in sorted((Path(src) / sub / "good").glob("*.png"))
        ]
        for p in goods[: args.n]:
            os.symlink(p.resolve(), cat / "test" / f"run_{name}" / p.name)
            # eval wants a mask per test image outside good: one corner pixel (the pixel
            # metrics of these rows mean nothing and are not read)
            img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            m = np.zeros_like(img)
            m[0, 0] = 255
            cv2.imwrite(str(cat / "ground_truth" / f"run_{name}" / f"{p.stem}_mask.png"), m)
    recs = run_eval(args.model, cat, args.work / f"eval_{args.view}")
    neg = np.array([float(r["map_max"]) for r in recs if r["defect"] == "good"])
    result: dict[str, object] = {"view": args.view, "model": str(args.model), "n_good": len(neg)}
    rows = {}
    for name in runs:
        pos = np.array([float(r["map_max"]) for r in recs if r["defect"] == f"run_{name}"])
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        rows[name] = {
            "n": len(pos),
            "mapmax_auroc": float(roc_auc_score(y, np.r_[pos, neg])),
            "mapmax_median": float(np.median(pos)),
        }
        print(f"{name}: {len(pos)} good images, map-max AUROC {rows[name]['mapmax_auroc']:.3f}")
    result["runs"] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
