# ruff: noqa
"""Research script (see README.md): PatchCore scoring variants on features cached by feats_mt.py.

    python bench/patchcore_sweep/sweep_mt.py /tmp/exp/magnetic_tile_256lite2 \
        '[{"ratio":0.01,"hold":0.1,"norm":"z","per":"top10"}]'

Keys: layers, grid, dim (PCA), ratio, cap, pos (positional weight), hold (held-out share for
the per-position statistics), norm ("sub" or "z"), pk (smoothing radius), sigma, per (score
for the per-defect AUROC), tag (writes scores_TAG.npz). Prints one JSON line per variant.
"""

import json, sys, time, numpy as np, torch, torch.nn.functional as F

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from bench.metrics import aupro, image_auroc, pixel_auroc
from xrbridge.models.patchcore.coreset import greedy_coreset
from xrbridge.models.patchcore.train import _knn_table, _pca
from xrbridge.models.patchcore.model import GaussianBlur

torch.set_num_threads(int(__import__("os").environ.get("T", "2")))
D = sys.argv[1]
variants = json.loads(sys.argv[2])
labels = np.load(f"{D}/labels.npy")
masks = np.load(f"{D}/masks.npy")
defect = np.load(f"{D}/defect.npy")
cache = {}
import os

boxes = np.load(f"{D}/test_boxes.npy") if os.path.exists(f"{D}/test_boxes.npy") else None


def load(split, layers, grid):
    key = (split, layers, grid)
    if key not in cache:
        fs = []
        for l in layers.split(","):
            f = torch.from_numpy(np.load(f"{D}/{split}_{l}.npy").astype(np.float32))
            if f.shape[-1] != grid:
                f = (
                    F.interpolate(f, size=(grid, grid), mode="bilinear", align_corners=False)
                    if f.shape[-1] < grid
                    else F.adaptive_avg_pool2d(f, grid)
                )
            fs.append(f)
        cache[key] = torch.cat(fs, 1)
    return cache[key]


for v in variants:
    layers = v.get("layers", "s8,s16")
    grid = v.get("grid", 32)
    dim = v.get("dim", 128)
    ratio = v.get("ratio", 0.01)
    cap = v.get("cap", 8192)
    pw = v.get("pos", 0.0)
    tr = load("train", layers, grid)
    te = load("test", layers, grid)
    N, C, h, w = tr.shape
    hold = v.get("hold", 0.0)
    trall = tr
    if hold:
        perm = np.random.default_rng(0).permutation(N)
        nh = max(1, round(N * hold))
        trh = tr[torch.from_numpy(np.sort(perm[:nh]))]
        tr = tr[torch.from_numpy(np.sort(perm[nh:]))]
    f = tr.permute(0, 2, 3, 1).reshape(-1, C)
    t0 = time.time()
    mean, comps = (
        _pca(f, dim, 0) if 0 < dim < C else (np.zeros(C, np.float32), np.eye(C, dtype=np.float32))
    )
    mu, P = torch.from_numpy(mean), torch.from_numpy(comps)
    yy, xx = torch.meshgrid(torch.arange(h) / h, torch.arange(w) / w, indexing="ij")
    pos = torch.stack([yy, xx]).reshape(2, -1).t()

    def prep(x, lam):
        g = (x.permute(0, 2, 3, 1).reshape(-1, C) - mu) @ P.t()
        return torch.cat([g, lam * pos.repeat(x.shape[0], 1)], 1) if lam else g

    ff = prep(tr, 0)
    lam = pw * float(ff.var(0).sum().sqrt()) if pw else 0
    if lam:
        ff = prep(tr, lam)
    n = max(1, min(round(len(ff) * ratio), cap))
    groups = max(1, len(ff) // 25000)
    sel = greedy_coreset(ff, n, 64, 0, groups=groups)
    bank = ff[torch.from_numpy(sel)].contiguous()
    tb = time.time() - t0
    del ff
    sup = _knn_table(bank, 9)
    bsq = (bank * bank).sum(1)

    def nn_scores(x):
        q = prep(x, lam)
        d2 = (q * q).sum(1, keepdim=True) - 2 * q @ bank.t() + bsq
        dm, idx = d2.min(1)
        return (
            dm.clamp_min(0).sqrt().reshape(-1, h * w),
            idx.reshape(-1, h * w),
            q.reshape(-1, h * w, q.shape[1]),
        )

    pmu, psd = torch.zeros(h * w), torch.ones(h * w)
    if hold:
        with torch.inference_mode():
            hs = torch.cat([nn_scores(trh[i : i + 8])[0] for i in range(0, len(trh), 8)])
        k = v.get("pk", 1)
        pmu = (
            F.avg_pool2d(
                hs.mean(0).reshape(1, 1, h, w), 2 * k + 1, 1, k, count_include_pad=False
            ).reshape(-1)
            if k
            else hs.mean(0)
        )
        psd = (
            F.avg_pool2d(
                hs.std(0).reshape(1, 1, h, w), 2 * k + 1, 1, k, count_include_pad=False
            ).reshape(-1)
            if k
            else hs.std(0)
        )
        mode = v.get("norm", "sub")
    blur = GaussianBlur(v.get("sigma", 4.0))
    maps, sc = [], {"eq4": [], "eq4k9": [], "max": [], "top10": [], "top1pct": [], "mapmax": []}
    with torch.inference_mode():
        for i in range(0, len(te), 8):
            s, idx, qq = nn_scores(te[i : i + 8])
            raw_s = s.clone()
            if hold:
                s = s - pmu if mode == "sub" else (s - pmu) / (psd + v.get("eps", 0.1) * psd.mean())
            for b in range(s.shape[0]):
                p = int(s[b].argmax())
                ms = int(idx[b, p])
                for key, k in (("eq4", 3), ("eq4k9", 9)):
                    nb = bank[sup[ms, :k]]
                    dd = ((nb - qq[b, p]) ** 2).sum(1).sqrt()
                    sc[key].append(float((1 - torch.softmax(dd, 0)[0]) * s[b, p]))
                srt = s[b].sort(descending=True).values
                sc["max"].append(float(srt[0]))
                sc["top10"].append(float(srt[:10].mean()))
                sc["top1pct"].append(float(srt[: max(1, h * w // 100)].mean()))
                for kk in (3, 5, 20, 40):
                    sc.setdefault(f"top{kk}", []).append(float(srt[:kk].mean()))
                rs = raw_s[b].sort(descending=True).values
                sc.setdefault("rawtop10", []).append(float(rs[:10].mean()))
            m = F.interpolate(
                s.reshape(-1, 1, h, w), size=(256, 256), mode="bilinear", align_corners=False
            )
            m = blur(m)[:, 0].numpy()
            if boxes is not None:
                import cv2

                m = np.stack(
                    [
                        cv2.resize(
                            mm[y0 : y0 + nh, x0 : x0 + nw],
                            (256, 256),
                            interpolation=cv2.INTER_LINEAR,
                        )
                        for mm, (y0, x0, nh, nw) in zip(m, boxes[i : i + 8])
                    ]
                )
            maps.append(m)
            sc["mapmax"] += list(m.reshape(len(m), -1).max(1))
    M = np.concatenate(maps)
    r = dict(v, bank=n, bank_s=round(tb, 1))
    for key, val in sc.items():
        r[key] = round(image_auroc(np.array(val), labels), 4)
    S = np.array(sc[v.get("per", "eq4")])
    r["per_defect"] = {
        d: round(
            image_auroc(
                np.r_[S[defect == "good"], S[defect == d]],
                np.r_[np.zeros((defect == "good").sum()), np.ones((defect == d).sum())],
            ),
            3,
        )
        for d in sorted(set(defect))
        if d != "good"
    }
    np.savez(
        f"{D}/scores_{v.get('tag', 'x')}.npz",
        labels=labels,
        defect=defect,
        **{k: np.array(x) for k, x in sc.items()},
    )
    r["pix"] = round(pixel_auroc(M, masks), 4)
    r["aupro"] = round(aupro(M, masks), 4)
    print(json.dumps(r), flush=True)
