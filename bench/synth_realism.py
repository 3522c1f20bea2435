"""Can a classifier tell `synth` defects from rendered ones? (realism check)

Takes 64x64 crops centred on each defect (largest mask component) from the
renderer's defective images and from `synth`'s, per type, and trains two
classifiers to tell the source: logistic regression and gradient boosting
on features that expose pasted-in content (intensity and gradient histograms
inside and around the mask, HOG, fine-scale noise level inside vs outside,
8x8 JPEG-block strength inside vs outside, a 16x16 thumbnail). Reported:
held-out AUROC from 5-fold stratified cross-validation; 0.5 means the sources
cannot be told apart, 1.0 means they always can. For all types together, the
same per feature group alone (``by_feature_group``): which cue gives synth away.

A power check runs the same pipeline on synth crops against the same places
in the good source images (defect vs no defect): it must score high, or the
features could not see anything in the first place.

Two controls say how much of the separation is not the pixels' realism:
``mask_free`` computes the same features with one fixed 24x24 centre square
as "the mask" for both sources (the two mark a defect differently: `synth`'s
mask holds every changed pixel, the lifted contact shadow of a removed bead
included; the renderer's is the bead's outline plus a margin, its shadow
changes outside it), and ``placement`` trains on where and how large the
defects are alone (mask centroid, area, bounding box), no pixels.
``same_places`` repeats the check on rendered and synth crops paired one to
one by defect centroid (within 4 % of the image size): the two generators
place defects differently, and a crop's background says where it is.

    python bench/synth_realism.py --rendered SIM_A/dataset/V [...] --synth SYNTH_OUT \
        --out reports/synth/realism_V.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DEFECTS = ("missing", "misalignment", "bifurcation", "narrowing", "hole")
S = 64


CENTRE = np.zeros((S, S), bool)
CENTRE[S // 2 - 12 : S // 2 + 12, S // 2 - 12 : S // 2 + 12] = True


def crop_at(img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float]] | None:
    """The SxS crop around the mask's largest part, that part's mask there, and its
    placement (centroid as a share of the image, log area, box as a share)."""
    n, lab, stats, cent = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8))
    if n < 2:
        return None
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    cx, cy = (round(float(v)) for v in cent[k])
    H, W = mask.shape
    st = stats[k]
    place = [
        cx / W,
        cy / H,
        float(np.log(st[cv2.CC_STAT_AREA])),
        st[cv2.CC_STAT_WIDTH] / W,
        st[cv2.CC_STAT_HEIGHT] / H,
    ]
    x0 = int(np.clip(cx - S // 2, 0, W - S))
    y0 = int(np.clip(cy - S // 2, 0, H - S))
    return img[y0 : y0 + S, x0 : x0 + S], (lab[y0 : y0 + S, x0 : x0 + S] == k), place


def blockiness(g: np.ndarray, where: np.ndarray) -> float:
    """Strongest 8-px periodic step pattern (JPEG block edges) over the 8 phases."""
    dx = np.abs(np.diff(g, axis=1))
    w = where[:, 1:]
    vals = []
    for ph in range(8):
        cols = np.zeros(dx.shape[1], bool)
        cols[ph::8] = True
        a = dx[:, cols][w[:, cols]]
        b = dx[:, ~cols][w[:, ~cols]]
        if a.size and b.size:
            vals.append(a.mean() / (b.mean() + 1e-3))
    return float(max(vals) - min(vals)) if vals else 0.0


# which columns of ``features`` carry which cue (mask part, ring part)
GROUPS = {
    "intensity histograms": list(range(0, 16)) + list(range(35, 51)),
    "gradient histograms": list(range(16, 32)) + list(range(51, 67)),
    "fine scale (noise, Laplacian, JPEG blocks)": list(range(32, 35)) + list(range(67, 70)),
    "HOG": list(range(70, 198)),
    "16x16 thumbnail": list(range(198, 454)),
}
NF = 454  # features per crop
X_COLS = 2 * NF + 5  # with the true mask, with the centre square, placement


def features(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    ring = cv2.dilate(m.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~m
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)
    mag = np.hypot(gx, gy)
    ang = (np.arctan2(gy, gx) % np.pi) / np.pi
    res = g - cv2.GaussianBlur(g, (0, 0), 1.0)
    f = []
    for where in (m, ring):
        f += list(np.histogram(g[where], 16, (0, 256))[0] / max(where.sum(), 1))
        f += list(np.histogram(mag[where], 16, (0, 400))[0] / max(where.sum(), 1))
        f += [
            float(res[where].std()) if where.any() else 0.0,
            float(np.abs(cv2.Laplacian(g, cv2.CV_32F))[where].mean()) if where.any() else 0.0,
            blockiness(g, where),
        ]
    hog = []
    for cy in range(4):
        for cx in range(4):
            sl = (slice(cy * 16, cy * 16 + 16), slice(cx * 16, cx * 16 + 16))
            h = np.histogram(ang[sl], 8, (0, 1), weights=mag[sl])[0]
            hog += list(h / (np.linalg.norm(h) + 1e-6))
    thumb = cv2.resize(g, (16, 16), interpolation=cv2.INTER_AREA).ravel() / 255.0
    return np.asarray(f + hog + list(thumb), np.float32)


def crops(
    root: Path,
    typ: str,
    good_from: Path | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Features of defect crops, and (with ``good_from``) of the same places in the
    good source images. A defect crop's row is its features with the true mask,
    then with the centre square (``mask_free``), then its placement; a good
    crop's, its features with the defect's mask (the power check's)."""
    labels = {}
    if good_from is not None:
        labels = json.loads((root / "labels.json").read_text())["images"]
    bad, good = [], []
    for p in sorted((root / "test" / typ).glob("*.png")):
        img = cv2.imread(str(p))
        mask = cv2.imread(str(root / "ground_truth" / typ / f"{p.stem}_mask.png"), 0)
        c = crop_at(img, mask)
        if c is None:
            continue
        crop, m, place = c
        bad.append(np.concatenate([features(crop, m), features(crop, CENTRE), place]))
        if good_from is not None:
            src = cv2.imread(str(good_from / labels[p.stem]["source"]))
            c2 = crop_at(src, mask)
            assert c2 is not None
            good.append(features(c2[0], c2[1]))
    return bad, good


def match_places(r: list[np.ndarray], s: list[np.ndarray], tol: float = 0.04) -> list[tuple]:
    """Greedy one-to-one pairs of rendered and synth crops whose defect centroids are
    within ``tol`` (share of the image size) of each other, nearest first."""
    if not r or not s:
        return []
    cr = np.array([x[2 * NF : 2 * NF + 2] for x in r])
    cs = np.array([x[2 * NF : 2 * NF + 2] for x in s])
    d = np.linalg.norm(cr[:, None, :] - cs[None, :, :], axis=-1)
    pairs, used_r, used_s = [], set(), set()
    for k in np.argsort(d, axis=None):
        i, j = divmod(int(k), d.shape[1])
        if d[i, j] > tol:
            break
        if i not in used_r and j not in used_s:
            used_r.add(i)
            used_s.add(j)
            pairs.append((r[i], s[j]))
    return pairs


def cv_auroc(X: np.ndarray, y: np.ndarray, seed: int = 0) -> dict[str, float]:
    out = {}
    models = {
        "logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)),
        "boosting": lambda: HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.08, random_state=seed
        ),
    }
    k = int(min(5, np.bincount(y).min())) if len(np.unique(y)) == 2 else 0
    if k < 2:
        return {"logreg": float("nan"), "boosting": float("nan")}
    for name, make in models.items():
        pred = np.zeros(len(y))
        for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y):
            clf = make().fit(X[tr], y[tr])
            pred[te] = clf.predict_proba(X[te])[:, 1]
        out[name] = float(roc_auc_score(y, pred))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rendered", required=True, type=Path, nargs="+")
    ap.add_argument("--synth", required=True, type=Path)
    ap.add_argument(
        "--synth-input",
        type=Path,
        default=None,
        help="the category synth read (for the power check)",
    )
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    result: dict[str, object] = {}
    allX, ally, powX, powy, matX, maty = [], [], [], [], [], []
    for typ in DEFECTS:
        r = [f for root in args.rendered for f in crops(root, typ)[0]]
        s, g = crops(args.synth, typ, args.synth_input)
        n = min(len(r), len(s))
        if n == 0:  # a set without this type (``synth --types``)
            print(f"{typ}: {len(r)} rendered, {len(s)} synth crops: skipped", file=sys.stderr)
            continue
        # the same check on crops from the same places only: what is left is how the
        # defects look, not where the two generators put them
        pairs = match_places(r, s)
        Xm = np.array([a for a, _ in pairs] + [b for _, b in pairs]).reshape(-1, X_COLS)
        ym = np.array([0] * len(pairs) + [1] * len(pairs))
        rng = np.random.default_rng(0)
        r = [r[i] for i in rng.permutation(len(r))[:n]]
        s = [s[i] for i in rng.permutation(len(s))[:n]]
        X = np.array(r + s)
        y = np.array([0] * n + [1] * n)
        row: dict[str, object] = {
            "n_per_class": n,
            "synth_vs_rendered": cv_auroc(X[:, :NF], y),
            "mask_free": cv_auroc(X[:, NF : 2 * NF], y),
            "placement": cv_auroc(X[:, 2 * NF :], y),
            "same_places": {
                "n_pairs": len(pairs),
                "true_masks": cv_auroc(Xm[:, :NF], ym),
                "centre_square": cv_auroc(Xm[:, NF : 2 * NF], ym),
            },
        }
        allX += [X]
        ally += [y]
        matX += [Xm]
        maty += [ym]
        if g:
            Xp = np.array([x[:NF] for x in s] + g[:n])
            yp = np.array([1] * n + [0] * min(n, len(g)))
            row["power_defect_vs_good"] = cv_auroc(Xp, yp)
            powX += [Xp]
            powy += [yp]
        result[typ] = row
        print(typ, json.dumps(row))
    if not allX:
        print("no defect type has crops in both sets", file=sys.stderr)
        return 2
    Xa, ya = np.concatenate(allX), np.concatenate(ally)
    Xma, yma = np.concatenate(matX), np.concatenate(maty)
    result["all"] = {
        "n": int(sum(len(y) for y in ally)),
        "synth_vs_rendered": cv_auroc(Xa[:, :NF], ya),
        "mask_free": cv_auroc(Xa[:, NF : 2 * NF], ya),
        "placement": cv_auroc(Xa[:, 2 * NF :], ya),
        "same_places": {
            "n_pairs": len(yma) // 2,
            "true_masks": cv_auroc(Xma[:, :NF], yma),
            "centre_square": cv_auroc(Xma[:, NF : 2 * NF], yma),
        },
        # each cue alone: which one gives synth away (true masks, then the centre square)
        "by_feature_group": {name: cv_auroc(Xa[:, cols], ya) for name, cols in GROUPS.items()},
        "by_feature_group_mask_free": {
            name: cv_auroc(Xa[:, [NF + c for c in cols]], ya) for name, cols in GROUPS.items()
        },
    }
    if powX:
        result["all"]["power_defect_vs_good"] = cv_auroc(  # type: ignore[index]
            np.concatenate(powX), np.concatenate(powy)
        )
    print("all", json.dumps(result["all"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
